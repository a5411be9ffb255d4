-- Secrecy over the whole publication (issue 13).
--
-- 1. The rules' new parameters, next to the threshold: a territory's allocations
--    are published only if they cannot be pinned on one résidence (at least
--    N résidences, none holding more than X % of the territory's dwellings).
-- 2. The public status says only « secret » (S): publishing C (hidden to
--    protect another, so at least 11) apart from S (under 11) narrows what an
--    analyst can infer. The reason stays internal, in `motif`, for the
--    administrator and the loss report.
-- 3. The loss report of each publication (`core.secret_bilan`).
-- 4. Every count of the neighbourhood diagnosis follows the same rules.

ALTER TABLE core.parametre_secret
    ADD COLUMN attributions_residences_min integer NOT NULL DEFAULT 2
        CHECK (attributions_residences_min >= 1),
    ADD COLUMN attributions_part_max numeric(5, 2) NOT NULL DEFAULT 85
        CHECK (attributions_part_max > 0 AND attributions_part_max <= 100);
COMMENT ON COLUMN core.parametre_secret.seuil IS
    'No figure under this many dwellings, households or allocations (convention, art. 3).';
COMMENT ON COLUMN core.parametre_secret.attributions_residences_min IS
    'Allocations of a territory are published only if it holds at least this many résidences.';
COMMENT ON COLUMN core.parametre_secret.attributions_part_max IS
    'Allocations of a territory are published only if no résidence holds more than this share (%) of its dwellings.';

ALTER TABLE core.secret_statut ADD COLUMN motif text;
UPDATE core.secret_statut
SET motif = CASE statut WHEN 'S' THEN 'seuil' WHEN 'C' THEN 'complementaire' END,
    statut = CASE statut WHEN 'C' THEN 'S' ELSE statut END;
ALTER TABLE core.secret_statut DROP CONSTRAINT secret_statut_statut_check;
ALTER TABLE core.secret_statut
    ADD CONSTRAINT secret_statut_statut_check CHECK (statut IN ('P', 'S', 'Z', 'N')),
    ADD CONSTRAINT secret_statut_motif_check
        CHECK (motif IN ('seuil', 'dominance', 'complementaire') AND statut = 'S'
               OR motif IS NULL AND statut <> 'S');

-- What each publication hides: per layer, field group and millésime, the cells
-- hidden by the threshold, by dominance and to protect others, and the base
-- (dwellings, households, allocations) behind them. For the administrator only.
CREATE TABLE core.secret_bilan (
    data_version      bigint NOT NULL REFERENCES core.publication ON DELETE CASCADE,
    couche            text NOT NULL,
    groupe            text NOT NULL,      -- the status column of the field group
    millesime         smallint NOT NULL,
    cellules          integer NOT NULL,   -- cells with something to count
    seuil             integer NOT NULL,
    dominance         integer NOT NULL,
    complementaire    integer NOT NULL,
    base_totale       numeric NOT NULL,
    base_seuil        numeric NOT NULL,
    base_dominance    numeric NOT NULL,
    base_complementaire numeric NOT NULL,
    PRIMARY KEY (data_version, couche, groupe, millesime)
);

-- The neighbourhood diagnosis: every count (people, households, recipients) under
-- the threshold is blank, and so is every ratio built on a blank; the split of
-- households between the social and the private stock falls together (one gives
-- the other through the total), and it is blank wherever the occupation theme
-- hides the same territory's households (it would stand in for them); the
-- fragility index falls with any of the counts it is built from.
DROP MATERIALIZED VIEW diffusion.diagnostic_quartiers;
CREATE MATERIALIZED VIEW diffusion.diagnostic_quartiers AS
WITH regle AS (SELECT seuil FROM core.parametre_secret),
shown AS (
    SELECT d.*,
           d.population NOT BETWEEN 1 AND regle.seuil - 1 AS ok_population,
           d.nb_menages NOT BETWEEN 1 AND regle.seuil - 1 AS ok_menages,
           d.menages_parc_social NOT BETWEEN 1 AND regle.seuil - 1
               AND d.menages_parc_prive NOT BETWEEN 1 AND regle.seuil - 1
               AND d.nb_menages NOT BETWEEN 1 AND regle.seuil - 1
               AND NOT EXISTS (
                   SELECT 1 FROM core.secret_statut o
                   WHERE o.theme = 'occupation' AND o.echelle = lower(d.niveau)
                     AND o.code = d.code AND o.statut = 'S'
                     AND (o.millesime = d.millesime OR NOT EXISTS (
                          SELECT 1 FROM core.secret_statut o2
                          WHERE o2.theme = 'occupation' AND o2.millesime = d.millesime)))
               AS ok_parcs,
           d.menages_pauvres NOT BETWEEN 1 AND regle.seuil - 1 AS ok_pauvres,
           d.menages_monoparentaux NOT BETWEEN 1 AND regle.seuil - 1 AS ok_monoparentaux,
           d.actifs NOT BETWEEN 1 AND regle.seuil - 1 AS ok_actifs,
           d.chomeurs NOT BETWEEN 1 AND regle.seuil - 1 AS ok_chomeurs,
           d.pop_15_plus NOT BETWEEN 1 AND regle.seuil - 1 AS ok_pop_15_plus,
           d.sans_diplome NOT BETWEEN 1 AND regle.seuil - 1 AS ok_sans_diplome,
           d.allocataires_caf NOT BETWEEN 1 AND regle.seuil - 1 AS ok_caf,
           d.allocataires_caf_bas_revenus NOT BETWEEN 1 AND regle.seuil - 1 AS ok_caf_bas
    FROM core.diagnostic_quartier d CROSS JOIN regle
)
SELECT d.niveau || '-' || d.code || '-' || d.millesime AS id, d.niveau, d.code, t.nom, d.millesime,
       CASE WHEN d.ok_population AND d.ok_menages AND d.ok_parcs AND d.ok_pauvres
                 AND d.ok_monoparentaux AND d.ok_actifs AND d.ok_chomeurs AND d.ok_pop_15_plus
                 AND d.ok_sans_diplome AND d.ok_caf AND d.ok_caf_bas THEN 'P' ELSE 'S' END
           AS statut_secret,
       CASE WHEN d.ok_population THEN d.population END AS population,
       CASE WHEN d.ok_menages THEN d.nb_menages END AS nb_menages,
       CASE WHEN d.ok_parcs THEN d.menages_parc_social END AS menages_parc_social,
       CASE WHEN d.ok_parcs THEN d.menages_parc_prive END AS menages_parc_prive,
       CASE WHEN d.ok_pauvres THEN d.menages_pauvres END AS menages_pauvres,
       CASE WHEN d.ok_monoparentaux THEN d.menages_monoparentaux END AS menages_monoparentaux,
       CASE WHEN d.ok_actifs THEN d.actifs END AS actifs,
       CASE WHEN d.ok_chomeurs THEN d.chomeurs END AS chomeurs,
       CASE WHEN d.ok_pop_15_plus THEN d.pop_15_plus END AS pop_15_plus,
       CASE WHEN d.ok_sans_diplome THEN d.sans_diplome END AS sans_diplome,
       CASE WHEN d.ok_caf THEN d.allocataires_caf END AS allocataires_caf,
       CASE WHEN d.ok_caf_bas THEN d.allocataires_caf_bas_revenus END AS allocataires_caf_bas_revenus,
       CASE WHEN d.ok_parcs AND d.ok_menages
            THEN round(100.0 * d.menages_parc_social / nullif(d.nb_menages, 0), 1) END
           AS part_parc_social,
       CASE WHEN d.ok_pauvres AND d.ok_menages
            THEN round(100.0 * d.menages_pauvres / nullif(d.nb_menages, 0), 1) END
           AS part_menages_pauvres,
       CASE WHEN d.ok_chomeurs AND d.ok_actifs
            THEN round(100.0 * d.chomeurs / nullif(d.actifs, 0), 1) END AS taux_chomage,
       -- The index is built from five shares (poverty, lone parents, unemployment, no
       -- diploma, low-income CAF recipients): with one hidden, the others and the index
       -- would give it back. Published only with all of them.
       CASE WHEN d.ok_menages AND d.ok_pauvres AND d.ok_monoparentaux AND d.ok_actifs
                 AND d.ok_chomeurs AND d.ok_pop_15_plus AND d.ok_sans_diplome AND d.ok_caf
                 AND d.ok_caf_bas THEN d.indice_fragilite END AS indice_fragilite,
       t.geom, ST_Transform(t.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM shown d
JOIN core.territoire t ON t.echelle = lower(d.niveau) AND t.code = d.code;
CREATE UNIQUE INDEX diagnostic_quartiers_id ON diffusion.diagnostic_quartiers (id);
CREATE INDEX diagnostic_quartiers_millesime ON diffusion.diagnostic_quartiers (millesime);
CREATE INDEX diagnostic_quartiers_geom ON diffusion.diagnostic_quartiers USING gist (geom);
CREATE INDEX diagnostic_quartiers_geom_4326 ON diffusion.diagnostic_quartiers USING gist (geom_4326);
GRANT SELECT ON diffusion.diagnostic_quartiers TO lls_service;

-- No C left in what partners read until the next publication recomputes everything.
DO $$
DECLARE v text;
BEGIN
    FOR v IN SELECT matviewname FROM pg_matviews
             WHERE schemaname = 'diffusion' AND ispopulated ORDER BY 1 LOOP
        EXECUTE format('REFRESH MATERIALIZED VIEW diffusion.%I', v);
    END LOOP;
END $$;
