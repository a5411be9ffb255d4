-- Core data model of the three themes (parc, occupation, attributions) and the
-- urban context, as loaded from the producers' files, one millésime per load.
--
-- Why this shape (a contract for the published views and their secrecy layer):
-- * every fact row carries its millésime (smallint), so that a load replaces
--   exactly one millésime and retention can purge by year;
-- * everything is stored as COUNTS (and sums with their base), never as ratios,
--   so that every published figure is additive and its base is known;
-- * attributions are stored per year at the finest cell (commune x IRIS x QPV
--   or outside QPV), so that commune, IRIS and QPV totals are exact sums of
--   cells and differencing checks can be computed;
-- * territories (IRIS, QPV, EPCI) carry no secret but stay in core like the rest:
--   the service role reads only the diffusion schema.

-- Territories -----------------------------------------------------------------
CREATE TABLE core.epci_membership (
    code_insee  text PRIMARY KEY REFERENCES core.commune (code_insee) DEFERRABLE INITIALLY DEFERRED,
    siren_epci  text NOT NULL CHECK (siren_epci ~ '^[0-9]{9}$'),
    nom_epci    text NOT NULL,
    millesime   smallint NOT NULL,
    source      text NOT NULL
);

-- IGN CONTOURS-IRIS. Communes under 10,000 inhabitants are one IRIS
-- (code_insee || '0000', typ_iris 'Z').
CREATE TABLE core.iris (
    code_iris   text PRIMARY KEY CHECK (code_iris ~ '^[0-9][0-9AB][0-9]{7}$'),
    nom_iris    text NOT NULL,
    insee_com   text NOT NULL CHECK (left(code_iris, 5) = insee_com),
    typ_iris    text NOT NULL CHECK (typ_iris IN ('H', 'A', 'D', 'Z')),
    millesime   smallint NOT NULL,
    source      text NOT NULL,
    geom        geometry(MultiPolygon, 2154) NOT NULL
);
CREATE INDEX iris_geom_idx ON core.iris USING gist (geom);
CREATE INDEX iris_insee_com_idx ON core.iris (insee_com);

-- Quartiers prioritaires de la politique de la ville (national file).
CREATE TABLE core.qpv (
    code_qpv    text PRIMARY KEY CHECK (code_qpv ~ '^Q[A-Z0-9]{6,8}$'),
    nom_qpv     text NOT NULL,
    communes    text[] NOT NULL CHECK (cardinality(communes) >= 1),
    millesime   smallint NOT NULL,
    source      text NOT NULL,
    geom        geometry(MultiPolygon, 2154) NOT NULL
);
CREATE INDEX qpv_geom_idx ON core.qpv USING gist (geom);

-- Load ledger: what is loaded, per source and millésime, from which file.
-- The sha256 makes a second identical run a no-op.
CREATE TABLE core.load (
    source         text NOT NULL,
    millesime      smallint NOT NULL,
    fichier        text NOT NULL,
    sha256         text NOT NULL,
    rows_read      integer NOT NULL,
    rows_loaded    integer NOT NULL,
    rows_rejected  integer NOT NULL,
    fictif         boolean NOT NULL DEFAULT false,   -- generated demo data
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, millesime)
);

-- Parc (RPLS) -------------------------------------------------------------------
-- Résidence: dwellings of one landlord grouped by the documented rule
-- (docs/etl.md); residence_id is stable across millésimes.
CREATE TABLE core.residence (
    millesime      smallint NOT NULL,
    residence_id   text NOT NULL CHECK (residence_id ~ '^R[0-9a-f]{12}$'),
    bailleur       text NOT NULL,
    siren_bailleur text,
    adresse        text NOT NULL,
    code_insee     text NOT NULL,
    code_iris      text NOT NULL,
    code_qpv       text,                 -- null outside QPV
    nb_logements   integer NOT NULL CHECK (nb_logements > 0),
    annee_construction smallint,         -- oldest dwelling of the résidence
    geom           geometry(Point, 2154) NOT NULL,
    PRIMARY KEY (millesime, residence_id)
);
CREATE INDEX residence_geom_idx ON core.residence USING gist (geom);
CREATE INDEX residence_iris_idx ON core.residence (millesime, code_iris);
CREATE INDEX residence_qpv_idx ON core.residence (millesime, code_qpv);

-- One row per dwelling of the RPLS "fichier détail".
CREATE TABLE core.logement (
    millesime      smallint NOT NULL,
    logement_id    text NOT NULL,        -- RPLS repertory identifier
    residence_id   text NOT NULL,
    code_insee     text NOT NULL,
    code_iris      text NOT NULL,
    code_qpv       text,
    en_qpv         boolean NOT NULL,
    type_construction text,              -- C collectif, I individuel, E étudiant
    nb_pieces      smallint CHECK (nb_pieces BETWEEN 1 AND 20),
    surface_hab    numeric(6, 1) CHECK (surface_hab > 0),
    annee_construction smallint CHECK (annee_construction BETWEEN 1800 AND 2100),
    financement    text NOT NULL CHECK (financement IN ('PLAI', 'PLUS', 'PLS', 'PLI', 'AUTRE')),
    finan_code     text,                 -- FINAN as in the file
    conventionne   boolean NOT NULL,
    loyer_principal numeric(8, 2) CHECK (loyer_principal >= 0),
    dpe_energie    char(1) CHECK (dpe_energie BETWEEN 'A' AND 'G'),
    dpe_ges        char(1) CHECK (dpe_ges BETWEEN 'A' AND 'G'),
    statut         text NOT NULL CHECK (statut IN ('occupe', 'vacant', 'vide', 'autre')),
    vacant_plus_3_mois boolean NOT NULL DEFAULT false,
    emmenagement_annee boolean NOT NULL DEFAULT false,   -- new lease during the year (turnover)
    PRIMARY KEY (millesime, logement_id),
    FOREIGN KEY (millesime, residence_id) REFERENCES core.residence ON DELETE CASCADE
);
CREATE INDEX logement_residence_idx ON core.logement (millesime, residence_id);

-- Occupation (landlords / URH "qualification du parc"), counts per résidence.
-- Each breakdown sums to its base (menages, or logements for vacancy).
CREATE TABLE core.occupation (
    millesime      smallint NOT NULL,
    residence_id   text NOT NULL,
    nb_logements   integer NOT NULL CHECK (nb_logements >= 0),
    nb_logements_vacants integer NOT NULL CHECK (nb_logements_vacants >= 0),
    nb_emmenagements integer NOT NULL CHECK (nb_emmenagements >= 0),
    nb_menages     integer NOT NULL CHECK (nb_menages >= 0),
    -- composition
    menages_1_pers integer NOT NULL, menages_2_pers integer NOT NULL,
    menages_3_4_pers integer NOT NULL, menages_5_pers_plus integer NOT NULL,
    menages_monoparentaux integer NOT NULL,
    -- resources relative to the PLUS ceilings
    menages_ress_inf_20 integer NOT NULL, menages_ress_20_60 integer NOT NULL,
    menages_ress_60_100 integer NOT NULL, menages_ress_sup_100 integer NOT NULL,
    menages_ress_inconnues integer NOT NULL,
    -- age of the reference person
    titulaires_moins_30 integer NOT NULL, titulaires_30_64 integer NOT NULL,
    titulaires_65_plus integer NOT NULL,
    -- employment of the reference person
    titulaires_emploi integer NOT NULL, titulaires_chomage integer NOT NULL,
    titulaires_inactifs integer NOT NULL,
    menages_apl    integer NOT NULL,
    PRIMARY KEY (millesime, residence_id),
    FOREIGN KEY (millesime, residence_id) REFERENCES core.residence ON DELETE CASCADE,
    CHECK (nb_logements_vacants <= nb_logements),
    CHECK (menages_1_pers + menages_2_pers + menages_3_4_pers + menages_5_pers_plus = nb_menages),
    CHECK (menages_ress_inf_20 + menages_ress_20_60 + menages_ress_60_100 + menages_ress_sup_100
           + menages_ress_inconnues = nb_menages),
    CHECK (titulaires_moins_30 + titulaires_30_64 + titulaires_65_plus = nb_menages),
    CHECK (titulaires_emploi + titulaires_chomage + titulaires_inactifs = nb_menages),
    CHECK (menages_monoparentaux <= nb_menages AND menages_apl <= nb_menages)
);

-- Rent + service charges (MEL study), sums with their base and counts by band
-- of monthly total (loyer + charges) so that averages and shares are derived.
CREATE TABLE core.loyer_charges (
    millesime      smallint NOT NULL,
    residence_id   text NOT NULL,
    nb_logements_renseignes integer NOT NULL CHECK (nb_logements_renseignes >= 0),
    surface_totale numeric(12, 1) NOT NULL CHECK (surface_totale >= 0),
    loyer_total    numeric(14, 2) NOT NULL CHECK (loyer_total >= 0),
    charges_total  numeric(14, 2) NOT NULL CHECK (charges_total >= 0),
    nb_quittance_inf_400 integer NOT NULL, nb_quittance_400_550 integer NOT NULL,
    nb_quittance_550_700 integer NOT NULL, nb_quittance_sup_700 integer NOT NULL,
    PRIMARY KEY (millesime, residence_id),
    FOREIGN KEY (millesime, residence_id) REFERENCES core.residence ON DELETE CASCADE,
    CHECK (nb_quittance_inf_400 + nb_quittance_400_550 + nb_quittance_550_700
           + nb_quittance_sup_700 = nb_logements_renseignes)
);

-- Attributions (SNE) per year and finest cell ---------------------------------------
CREATE TABLE core.attribution (
    millesime      smallint NOT NULL,    -- extract loaded
    annee          smallint NOT NULL CHECK (annee <= millesime),
    code_insee     text NOT NULL,
    code_iris      text NOT NULL CHECK (left(code_iris, 5) = code_insee),
    code_qpv       text,                 -- null: outside QPV
    nb_attributions integer NOT NULL CHECK (nb_attributions > 0),
    -- applicant income quartile (SNE quartiles of the year)
    nb_q1 integer NOT NULL, nb_q2 integer NOT NULL, nb_q3 integer NOT NULL,
    nb_q4 integer NOT NULL, nb_q_inconnu integer NOT NULL,
    -- priority publics (L441-1 CCH)
    nb_dalo integer NOT NULL, nb_prioritaire_hors_dalo integer NOT NULL,
    nb_non_prioritaire integer NOT NULL,
    -- household size
    nb_taille_1 integer NOT NULL, nb_taille_2 integer NOT NULL, nb_taille_3 integer NOT NULL,
    nb_taille_4 integer NOT NULL, nb_taille_5_plus integer NOT NULL,
    -- typology of the dwelling allocated
    nb_t1 integer NOT NULL, nb_t2 integer NOT NULL, nb_t3 integer NOT NULL,
    nb_t4 integer NOT NULL, nb_t5_plus integer NOT NULL,
    CHECK (nb_q1 + nb_q2 + nb_q3 + nb_q4 + nb_q_inconnu = nb_attributions),
    CHECK (nb_dalo + nb_prioritaire_hors_dalo + nb_non_prioritaire = nb_attributions),
    CHECK (nb_taille_1 + nb_taille_2 + nb_taille_3 + nb_taille_4 + nb_taille_5_plus = nb_attributions),
    CHECK (nb_t1 + nb_t2 + nb_t3 + nb_t4 + nb_t5_plus = nb_attributions)
);
CREATE UNIQUE INDEX attribution_cell_uq
    ON core.attribution (annee, code_insee, code_iris, coalesce(code_qpv, ''));
CREATE INDEX attribution_millesime_idx ON core.attribution (millesime);

-- Occupation context ------------------------------------------------------------------
-- INSEE Filosofi 200 m grid (thematic only, never at résidence scale).
CREATE TABLE core.filosofi_carreau (
    millesime   smallint NOT NULL,
    idcar_200m  text NOT NULL,
    ind         numeric NOT NULL, men numeric NOT NULL, men_pauv numeric NOT NULL,
    men_1ind    numeric, men_5ind numeric, men_fmp numeric, men_prop numeric,
    ind_snv     numeric NOT NULL,        -- sum of winsorised standard of living
    log_soc     numeric NOT NULL,
    ind_0_17    numeric, ind_65_plus numeric,
    geom        geometry(Polygon, 2154) NOT NULL,
    PRIMARY KEY (millesime, idcar_200m)
);
CREATE INDEX filosofi_geom_idx ON core.filosofi_carreau USING gist (geom);

-- QPV framing indicators (INSEE, CAF, CNAM, State): long form, numerator and
-- denominator kept when the producer gives them.
CREATE TABLE core.qpv_indicateur (
    millesime   smallint NOT NULL,
    code_qpv    text NOT NULL,
    indicateur  text NOT NULL,
    valeur      numeric,
    numerateur  numeric,
    denominateur numeric,
    source      text NOT NULL,
    PRIMARY KEY (millesime, code_qpv, indicateur)
);

-- MEL diagnosis of social occupation (public and private stock) per IRIS / QPV,
-- with the fragility index computed at load (method in docs/etl.md).
CREATE TABLE core.diagnostic_quartier (
    millesime   smallint NOT NULL,
    niveau      text NOT NULL CHECK (niveau IN ('IRIS', 'QPV')),
    code        text NOT NULL,
    population  integer NOT NULL CHECK (population >= 0),
    nb_menages  integer NOT NULL CHECK (nb_menages >= 0),
    menages_parc_social  integer NOT NULL,
    menages_parc_prive   integer NOT NULL,
    menages_pauvres      integer NOT NULL,       -- under the poverty line
    menages_monoparentaux integer NOT NULL,
    actifs      integer NOT NULL,
    chomeurs    integer NOT NULL,
    pop_15_plus integer NOT NULL,
    sans_diplome integer NOT NULL,
    allocataires_caf integer NOT NULL,
    allocataires_caf_bas_revenus integer NOT NULL,
    indice_fragilite numeric(6, 1),              -- 0..100, 50 = MEL average
    PRIMARY KEY (millesime, niveau, code)
);

-- Context: equipment, services, transport ------------------------------------------------
CREATE TABLE core.bpe_equipement (
    millesime    smallint NOT NULL,
    equipement_id text NOT NULL,
    typequ       text NOT NULL CHECK (typequ ~ '^[A-G][0-9]{3}$'),
    domaine      char(1) NOT NULL,           -- A..G (first letter of TYPEQU)
    code_insee   text NOT NULL,
    qualite_xy   text,
    geom         geometry(Point, 2154) NOT NULL,
    PRIMARY KEY (millesime, equipement_id)
);
CREATE INDEX bpe_geom_idx ON core.bpe_equipement USING gist (geom);

CREATE TABLE core.etablissement_scolaire (
    millesime    smallint NOT NULL,
    uai          text NOT NULL CHECK (uai ~ '^[0-9]{7}[A-Z]$'),
    nom          text NOT NULL,
    nature       text NOT NULL,
    secteur      text,
    classement_rep text,
    code_insee   text NOT NULL,
    geom         geometry(Point, 2154) NOT NULL,
    PRIMARY KEY (millesime, uai)
);
CREATE INDEX ecole_geom_idx ON core.etablissement_scolaire USING gist (geom);

CREATE TABLE core.finess_etablissement (
    millesime    smallint NOT NULL,
    nofinesset   text NOT NULL CHECK (nofinesset ~ '^[0-9AB]{9}$'),
    raison_sociale text NOT NULL,
    categetab    text NOT NULL,
    libcategetab text,
    categagretab text,
    code_insee   text NOT NULL,
    geom         geometry(Point, 2154) NOT NULL,
    PRIMARY KEY (millesime, nofinesset)
);
CREATE INDEX finess_geom_idx ON core.finess_etablissement USING gist (geom);

CREATE TABLE core.arret_tc (
    millesime    smallint NOT NULL,
    stop_id      text NOT NULL,
    stop_name    text NOT NULL,
    mode         text NOT NULL CHECK (mode IN ('metro', 'tram', 'bus', 'autre')),
    code_insee   text,
    geom         geometry(Point, 2154) NOT NULL,
    PRIMARY KEY (millesime, stop_id)
);
CREATE INDEX arret_geom_idx ON core.arret_tc USING gist (geom);

-- Proximity of each résidence, computed in PostGIS after each load.
CREATE TABLE core.proximite (
    millesime        smallint NOT NULL,
    residence_id     text NOT NULL,
    dist_metro_tram_m integer,            -- null: no stop loaded
    arret_metro_tram text,
    dist_bus_m       integer,
    PRIMARY KEY (millesime, residence_id),
    FOREIGN KEY (millesime, residence_id) REFERENCES core.residence ON DELETE CASCADE
);
-- Counts of equipment by family within 500 m (families: BPE domains A..G,
-- 'ecole' for collèges/lycées, 'finess').
CREATE TABLE core.proximite_equipement (
    millesime      smallint NOT NULL,
    residence_id   text NOT NULL,
    famille        text NOT NULL,
    nb_500m        integer NOT NULL CHECK (nb_500m >= 0),
    PRIMARY KEY (millesime, residence_id, famille),
    FOREIGN KEY (millesime, residence_id) REFERENCES core.residence ON DELETE CASCADE
);
