-- Loaders that take the producers' real files (issue 14): every public layout of every
-- source since 2014.
--
-- Why these changes:
-- * the load ledger says which layout was detected in each file, how many rows were
--   skipped because they lie outside the MEL (departmental, regional and national files),
--   and which of our fields the file does not have (the public RPLS has no landlord and
--   no rent): `etl status` and the data dictionary read them;
-- * the public RPLS (DiDo exports, regional files) publishes neither the landlord's
--   identity, nor the rent, nor the occupation (mode, vacancy, lease), nor always the APL
--   agreement: those columns become optional (NULL = « non renseigné », never a zero);
-- * dwellings without coordinates (older regional RPLS files, rows not geocoded) are
--   placed at the centre of their declared IRIS or of their commune: how each dwelling
--   and résidence was located is kept, so that nothing downstream mistakes it for a
--   position.
ALTER TABLE core.load
    ADD COLUMN disposition   text,
    ADD COLUMN rows_outside  integer NOT NULL DEFAULT 0 CHECK (rows_outside >= 0),
    ADD COLUMN champs_absents text[] NOT NULL DEFAULT '{}';

ALTER TABLE core.residence ALTER COLUMN bailleur DROP NOT NULL;
ALTER TABLE core.logement ALTER COLUMN conventionne DROP NOT NULL;
ALTER TABLE core.logement ALTER COLUMN statut DROP NOT NULL;
ALTER TABLE core.logement ALTER COLUMN vacant_plus_3_mois DROP NOT NULL;
ALTER TABLE core.logement ALTER COLUMN vacant_plus_3_mois DROP DEFAULT;
ALTER TABLE core.logement ALTER COLUMN emmenagement_annee DROP NOT NULL;
ALTER TABLE core.logement ALTER COLUMN emmenagement_annee DROP DEFAULT;

ALTER TABLE core.logement
    ADD COLUMN localisation text NOT NULL DEFAULT 'xy'
        CHECK (localisation IN ('xy', 'iris', 'commune'));
ALTER TABLE core.residence
    ADD COLUMN localisation text NOT NULL DEFAULT 'xy'
        CHECK (localisation IN ('xy', 'iris', 'commune'));
