-- Statistical secrecy: the rules' parameters (one place), the status of every
-- published aggregate (computed at publication by portail.secret.statuses), and
-- the per-résidence / per-territory aggregates the published views are built on.
-- These aggregates live in core (materialised once per publication, before the
-- statuses): the service role never reads them, only the diffusion views, where every figure not cleared by its status is NULL.

-- The rules (convention, article 3): threshold of 11 units, attributions summed
-- over the last 3 years. Read by the SQL views and by the Python suppressor.
CREATE TABLE core.parametre_secret (
    id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
    seuil                  integer NOT NULL CHECK (seuil >= 2),
    fenetre_attributions   integer NOT NULL CHECK (fenetre_attributions >= 1)
);
INSERT INTO core.parametre_secret (seuil, fenetre_attributions) VALUES (11, 3);

-- Status of each aggregate for one theme and millésime (τ-Argus-like codes):
-- P published, S hidden by the threshold (primary), C hidden to protect another
-- figure (complementary), Z nothing to count (zero), N never published.
CREATE TABLE core.secret_statut (
    theme      text NOT NULL CHECK (theme IN ('parc', 'quittance', 'occupation', 'attributions')),
    millesime  smallint NOT NULL,
    echelle    text NOT NULL,
    code       text NOT NULL,
    statut     char(1) NOT NULL CHECK (statut IN ('P', 'S', 'C', 'Z', 'N')),
    valeur_base numeric NOT NULL,   -- the base (dwellings, households, allocations): never published when hidden
    PRIMARY KEY (theme, millesime, echelle, code)
);

-- Parc (RPLS) per résidence: additive counts and sums only.
CREATE MATERIALIZED VIEW core.parc_par_residence AS
SELECT l.millesime, l.residence_id,
       count(*)                                                     AS nb_logements,
       count(*) FILTER (WHERE l.financement = 'PLAI')               AS nb_plai,
       count(*) FILTER (WHERE l.financement = 'PLUS')               AS nb_plus,
       count(*) FILTER (WHERE l.financement = 'PLS')                AS nb_pls,
       count(*) FILTER (WHERE l.financement = 'PLI')                AS nb_pli,
       count(*) FILTER (WHERE l.nb_pieces = 1)                      AS nb_t1,
       count(*) FILTER (WHERE l.nb_pieces = 2)                      AS nb_t2,
       count(*) FILTER (WHERE l.nb_pieces = 3)                      AS nb_t3,
       count(*) FILTER (WHERE l.nb_pieces = 4)                      AS nb_t4,
       count(*) FILTER (WHERE l.nb_pieces >= 5)                     AS nb_t5_plus,
       count(*) FILTER (WHERE l.type_construction = 'I')            AS nb_individuels,
       count(*) FILTER (WHERE l.dpe_energie IN ('A', 'B'))          AS nb_dpe_a_b,
       count(*) FILTER (WHERE l.dpe_energie IN ('C', 'D', 'E'))     AS nb_dpe_c_e,
       count(*) FILTER (WHERE l.dpe_energie IN ('F', 'G'))          AS nb_dpe_f_g,
       count(*) FILTER (WHERE l.statut = 'vacant')                  AS nb_vacants,
       count(*) FILTER (WHERE l.vacant_plus_3_mois)                 AS nb_vacants_3_mois,
       count(*) FILTER (WHERE l.emmenagement_annee)                 AS nb_emmenagements,
       count(*) FILTER (WHERE l.annee_construction >= l.millesime - 5) AS nb_recents_5_ans,
       coalesce(sum(l.surface_hab), 0)                              AS surface_totale,
       count(l.loyer_principal) FILTER (WHERE l.surface_hab > 0)    AS nb_loyer_renseigne,
       coalesce(sum(l.loyer_principal) FILTER (WHERE l.surface_hab > 0), 0) AS loyer_total,
       coalesce(sum(l.surface_hab) FILTER (WHERE l.loyer_principal IS NOT NULL), 0) AS surface_louee
FROM core.logement l
GROUP BY l.millesime, l.residence_id;

-- The same counts per territory (IRIS, QPV, commune, MEL), from the résidences.
CREATE MATERIALIZED VIEW core.parc_par_territoire AS
SELECT r.millesime,
       CASE WHEN GROUPING(r.code_iris) = 0 THEN 'iris'
            WHEN GROUPING(r.code_qpv) = 0 THEN 'qpv'
            WHEN GROUPING(r.code_insee) = 0 THEN 'commune' ELSE 'mel' END AS echelle,
       coalesce(r.code_iris, r.code_qpv, r.code_insee, 'MEL')          AS code,
       sum(p.nb_logements) AS nb_logements, sum(p.nb_plai) AS nb_plai, sum(p.nb_plus) AS nb_plus,
       sum(p.nb_pls) AS nb_pls, sum(p.nb_pli) AS nb_pli, sum(p.nb_t1) AS nb_t1,
       sum(p.nb_t2) AS nb_t2, sum(p.nb_t3) AS nb_t3, sum(p.nb_t4) AS nb_t4,
       sum(p.nb_t5_plus) AS nb_t5_plus, sum(p.nb_individuels) AS nb_individuels,
       sum(p.nb_dpe_a_b) AS nb_dpe_a_b, sum(p.nb_dpe_c_e) AS nb_dpe_c_e,
       sum(p.nb_dpe_f_g) AS nb_dpe_f_g, sum(p.nb_vacants) AS nb_vacants,
       sum(p.nb_vacants_3_mois) AS nb_vacants_3_mois, sum(p.nb_emmenagements) AS nb_emmenagements,
       sum(p.nb_recents_5_ans) AS nb_recents_5_ans, sum(p.surface_totale) AS surface_totale,
       sum(p.nb_loyer_renseigne) AS nb_loyer_renseigne, sum(p.loyer_total) AS loyer_total,
       sum(p.surface_louee) AS surface_louee
FROM core.parc_par_residence p
JOIN core.residence r USING (millesime, residence_id)
GROUP BY GROUPING SETS ((r.millesime, r.code_iris), (r.millesime, r.code_qpv),
                        (r.millesime, r.code_insee), (r.millesime))
HAVING GROUPING(r.code_qpv) = 1 OR r.code_qpv IS NOT NULL;

-- Rent + service charges (MEL study) per territory.
CREATE MATERIALIZED VIEW core.quittance_par_territoire AS
SELECT q.millesime,
       CASE WHEN GROUPING(r.code_iris) = 0 THEN 'iris'
            WHEN GROUPING(r.code_qpv) = 0 THEN 'qpv'
            WHEN GROUPING(r.code_insee) = 0 THEN 'commune' ELSE 'mel' END AS echelle,
       coalesce(r.code_iris, r.code_qpv, r.code_insee, 'MEL') AS code,
       sum(q.nb_logements_renseignes) AS nb_logements_renseignes,
       sum(q.surface_totale) AS surface_totale, sum(q.loyer_total) AS loyer_total,
       sum(q.charges_total) AS charges_total,
       sum(q.nb_quittance_inf_400) AS nb_quittance_inf_400,
       sum(q.nb_quittance_400_550) AS nb_quittance_400_550,
       sum(q.nb_quittance_550_700) AS nb_quittance_550_700,
       sum(q.nb_quittance_sup_700) AS nb_quittance_sup_700
FROM core.loyer_charges q
JOIN core.residence r USING (millesime, residence_id)
GROUP BY GROUPING SETS ((q.millesime, r.code_iris), (q.millesime, r.code_qpv),
                        (q.millesime, r.code_insee), (q.millesime))
HAVING GROUPING(r.code_qpv) = 1 OR r.code_qpv IS NOT NULL;

-- Occupation per territory (households and their breakdowns).
CREATE MATERIALIZED VIEW core.occupation_par_territoire AS
SELECT o.millesime,
       CASE WHEN GROUPING(r.code_iris) = 0 THEN 'iris'
            WHEN GROUPING(r.code_qpv) = 0 THEN 'qpv'
            WHEN GROUPING(r.code_insee) = 0 THEN 'commune' ELSE 'mel' END AS echelle,
       coalesce(r.code_iris, r.code_qpv, r.code_insee, 'MEL') AS code,
       sum(o.nb_menages) AS nb_menages,
       sum(o.menages_1_pers) AS menages_1_pers, sum(o.menages_2_pers) AS menages_2_pers,
       sum(o.menages_3_4_pers) AS menages_3_4_pers, sum(o.menages_5_pers_plus) AS menages_5_pers_plus,
       sum(o.menages_monoparentaux) AS menages_monoparentaux,
       sum(o.menages_ress_inf_20) AS menages_ress_inf_20, sum(o.menages_ress_20_60) AS menages_ress_20_60,
       sum(o.menages_ress_60_100) AS menages_ress_60_100, sum(o.menages_ress_sup_100) AS menages_ress_sup_100,
       sum(o.menages_ress_inconnues) AS menages_ress_inconnues,
       sum(o.titulaires_moins_30) AS titulaires_moins_30, sum(o.titulaires_30_64) AS titulaires_30_64,
       sum(o.titulaires_65_plus) AS titulaires_65_plus, sum(o.titulaires_emploi) AS titulaires_emploi,
       sum(o.titulaires_chomage) AS titulaires_chomage, sum(o.titulaires_inactifs) AS titulaires_inactifs,
       sum(o.menages_apl) AS menages_apl
FROM core.occupation o
JOIN core.residence r USING (millesime, residence_id)
GROUP BY GROUPING SETS ((o.millesime, r.code_iris), (o.millesime, r.code_qpv),
                        (o.millesime, r.code_insee), (o.millesime))
HAVING GROUPING(r.code_qpv) = 1 OR r.code_qpv IS NOT NULL;

-- Attributions summed over each 3-year window ending a year where the three
-- years are loaded; the window's last year is its millésime. Also split
-- inside / outside QPV (the legal objectives are stated on that split).
CREATE VIEW core.attribution_fenetre AS
WITH regle AS (SELECT fenetre_attributions AS n FROM core.parametre_secret),
annees AS (SELECT DISTINCT annee FROM core.attribution),
fenetres AS (
    SELECT a.annee AS fin, a.annee - regle.n + 1 AS debut
    FROM annees a, regle
    WHERE (SELECT count(*) FROM annees b WHERE b.annee BETWEEN a.annee - regle.n + 1 AND a.annee) = regle.n
)
SELECT f.fin AS fenetre_fin, f.debut, c.*
FROM fenetres f
JOIN core.attribution c ON c.annee BETWEEN f.debut AND f.fin;

CREATE MATERIALIZED VIEW core.attributions_par_territoire AS
SELECT w.fenetre_fin AS millesime, min(w.debut) AS debut,
       CASE WHEN GROUPING(w.code_iris) = 0 THEN 'iris'
            WHEN GROUPING(w.code_qpv) = 0 THEN 'qpv'
            WHEN GROUPING(w.code_insee) = 0 THEN 'commune' ELSE 'mel' END AS echelle,
       coalesce(w.code_iris, w.code_qpv, w.code_insee, 'MEL') AS code,
       sum(w.nb_attributions) AS nb_attributions,
       sum(w.nb_attributions) FILTER (WHERE w.code_qpv IS NOT NULL) AS nb_en_qpv,
       sum(w.nb_attributions) FILTER (WHERE w.code_qpv IS NULL) AS nb_hors_qpv,
       sum(w.nb_q1) FILTER (WHERE w.code_qpv IS NULL) AS nb_q1_hors_qpv,
       sum(w.nb_q2 + w.nb_q3 + w.nb_q4) FILTER (WHERE w.code_qpv IS NOT NULL) AS nb_q2_q4_en_qpv,
       sum(w.nb_q1) AS nb_q1, sum(w.nb_q2) AS nb_q2, sum(w.nb_q3) AS nb_q3, sum(w.nb_q4) AS nb_q4,
       sum(w.nb_q_inconnu) AS nb_q_inconnu, sum(w.nb_dalo) AS nb_dalo,
       sum(w.nb_prioritaire_hors_dalo) AS nb_prioritaire_hors_dalo,
       sum(w.nb_non_prioritaire) AS nb_non_prioritaire,
       sum(w.nb_taille_1) AS nb_taille_1, sum(w.nb_taille_2) AS nb_taille_2,
       sum(w.nb_taille_3) AS nb_taille_3, sum(w.nb_taille_4) AS nb_taille_4,
       sum(w.nb_taille_5_plus) AS nb_taille_5_plus, sum(w.nb_t1) AS nb_t1, sum(w.nb_t2) AS nb_t2,
       sum(w.nb_t3) AS nb_t3, sum(w.nb_t4) AS nb_t4, sum(w.nb_t5_plus) AS nb_t5_plus
FROM core.attribution_fenetre w
GROUP BY GROUPING SETS ((w.fenetre_fin, w.code_iris), (w.fenetre_fin, w.code_qpv),
                        (w.fenetre_fin, w.code_insee), (w.fenetre_fin))
HAVING GROUPING(w.code_qpv) = 1 OR w.code_qpv IS NOT NULL;

CREATE UNIQUE INDEX parc_par_residence_pk ON core.parc_par_residence (millesime, residence_id);
CREATE UNIQUE INDEX parc_par_territoire_pk ON core.parc_par_territoire (millesime, echelle, code);
CREATE UNIQUE INDEX quittance_par_territoire_pk ON core.quittance_par_territoire (millesime, echelle, code);
CREATE UNIQUE INDEX occupation_par_territoire_pk ON core.occupation_par_territoire (millesime, echelle, code);
CREATE UNIQUE INDEX attributions_par_territoire_pk ON core.attributions_par_territoire (millesime, echelle, code);
CREATE INDEX secret_statut_lookup ON core.secret_statut (theme, echelle, millesime, code);
