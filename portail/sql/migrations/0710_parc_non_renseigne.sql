-- Sub-counts a source does not give are « non renseigné », never a zero (issue 14).
--
-- The public RPLS files (DiDo exports, regional files) publish neither the occupation
-- status of a dwelling nor its lease (vacancy, vacancy over 3 months, new lease in
-- the year): those columns of core.logement became optional (0600). The per-résidence
-- counts below were counted with FILTER, so a résidence loaded from a public file read
-- 0 vacant dwellings and a turnover of 0. Now a résidence's count is NULL unless every
-- one of its dwellings says, and a territory's sum is NULL unless every résidence's
-- count is known. The parc's published views are rebuilt on these (same definitions
-- as 0300/0301 otherwise); the next publication (`portail-lls etl publish`, or any
-- load) recomputes the statuses.

DROP MATERIALIZED VIEW core.parc_par_residence CASCADE;

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
       CASE WHEN count(l.statut) = count(*)
            THEN count(*) FILTER (WHERE l.statut = 'vacant') END      AS nb_vacants,
       CASE WHEN count(l.vacant_plus_3_mois) = count(*)
            THEN count(*) FILTER (WHERE l.vacant_plus_3_mois) END     AS nb_vacants_3_mois,
       CASE WHEN count(l.emmenagement_annee) = count(*)
            THEN count(*) FILTER (WHERE l.emmenagement_annee) END     AS nb_emmenagements,
       count(*) FILTER (WHERE l.annee_construction >= l.millesime - 5) AS nb_recents_5_ans,
       coalesce(sum(l.surface_hab), 0)                              AS surface_totale,
       count(l.loyer_principal) FILTER (WHERE l.surface_hab > 0)    AS nb_loyer_renseigne,
       coalesce(sum(l.loyer_principal) FILTER (WHERE l.surface_hab > 0), 0) AS loyer_total,
       coalesce(sum(l.surface_hab) FILTER (WHERE l.loyer_principal IS NOT NULL), 0) AS surface_louee
FROM core.logement l
GROUP BY l.millesime, l.residence_id;

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
       sum(p.nb_dpe_f_g) AS nb_dpe_f_g, CASE WHEN count(p.nb_vacants) = count(*) THEN sum(p.nb_vacants) END AS nb_vacants,
       CASE WHEN count(p.nb_vacants_3_mois) = count(*) THEN sum(p.nb_vacants_3_mois) END AS nb_vacants_3_mois, CASE WHEN count(p.nb_emmenagements) = count(*) THEN sum(p.nb_emmenagements) END AS nb_emmenagements,
       sum(p.nb_recents_5_ans) AS nb_recents_5_ans, sum(p.surface_totale) AS surface_totale,
       sum(p.nb_loyer_renseigne) AS nb_loyer_renseigne, sum(p.loyer_total) AS loyer_total,
       sum(p.surface_louee) AS surface_louee
FROM core.parc_par_residence p
JOIN core.residence r USING (millesime, residence_id)
GROUP BY GROUPING SETS ((r.millesime, r.code_iris), (r.millesime, r.code_qpv),
                        (r.millesime, r.code_insee), (r.millesime))
HAVING GROUPING(r.code_qpv) = 1 OR r.code_qpv IS NOT NULL;

CREATE UNIQUE INDEX parc_par_residence_pk ON core.parc_par_residence (millesime, residence_id);
CREATE UNIQUE INDEX parc_par_territoire_pk ON core.parc_par_territoire (millesime, echelle, code);

CREATE MATERIALIZED VIEW diffusion.parc_residence AS
WITH regle AS (SELECT seuil FROM core.parametre_secret)
SELECT r.residence_id || '-' || r.millesime AS id,
       r.residence_id, r.millesime,
       coalesce(s.statut, 'S') AS statut_secret,
       CASE WHEN pub.ok THEN r.bailleur END AS bailleur,
       CASE WHEN pub.ok THEN r.adresse END AS adresse,
       CASE WHEN pub.ok THEN r.code_insee END AS code_insee,
       CASE WHEN pub.ok THEN r.code_iris END AS code_iris,
       CASE WHEN pub.ok THEN r.code_qpv END AS code_qpv,
       CASE WHEN pub.ok THEN r.annee_construction END AS annee_construction,
       p.nb_logements, p.nb_plai, p.nb_plus, p.nb_pls, p.nb_pli,
       p.nb_t1, p.nb_t2, p.nb_t3, p.nb_t4, p.nb_t5_plus, p.nb_individuels,
       p.nb_dpe_a_b, p.nb_dpe_c_e, p.nb_dpe_f_g, p.nb_vacants, p.nb_vacants_3_mois,
       p.nb_emmenagements,
       round(100.0 * p.nb_plai / nullif(p.nb_logements, 0), 1) AS part_plai,
       round(p.surface_totale / nullif(p.nb_logements, 0), 1) AS surface_moyenne,
       round(100.0 * p.nb_vacants / nullif(p.nb_logements, 0), 1) AS taux_vacance,
       round(100.0 * p.nb_emmenagements / nullif(p.nb_logements, 0), 1) AS taux_rotation,
       round(100.0 * p.nb_dpe_f_g / nullif(p.nb_logements, 0), 1) AS part_dpe_f_g,
       CASE WHEN p.nb_loyer_renseigne >= regle.seuil
            THEN round(p.loyer_total / nullif(p.surface_louee, 0), 2) END AS loyer_m2,
       coalesce(sq.statut, CASE WHEN coalesce(s.statut, 'S') = 'S' THEN 'S' ELSE 'Z' END)
           AS statut_quittance,
       q.nb_logements_renseignes AS nb_quittances,
       round((q.loyer_total + q.charges_total) / nullif(q.nb_logements_renseignes, 0), 0) AS quittance_moyenne,
       round(q.charges_total / nullif(q.nb_logements_renseignes, 0), 0) AS charges_moyennes,
       q.nb_quittance_inf_400, q.nb_quittance_400_550, q.nb_quittance_550_700, q.nb_quittance_sup_700,
       r.geom,
       ST_Transform(r.geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.residence r
CROSS JOIN regle
LEFT JOIN core.secret_statut s
       ON s.theme = 'parc' AND s.millesime = r.millesime AND s.echelle = 'residence'
      AND s.code = r.residence_id
LEFT JOIN core.parc_par_residence pr
       ON pr.millesime = r.millesime AND pr.residence_id = r.residence_id
CROSS JOIN LATERAL (SELECT s.statut = 'P' AND pr.nb_logements >= regle.seuil AS ok) pub
LEFT JOIN core.parc_par_residence p
       ON pub.ok AND p.millesime = r.millesime AND p.residence_id = r.residence_id
LEFT JOIN core.secret_statut sq
       ON sq.theme = 'quittance' AND sq.millesime = r.millesime
      AND sq.echelle = 'residence' AND sq.code = r.residence_id
LEFT JOIN core.loyer_charges q
       ON sq.statut = 'P' AND q.nb_logements_renseignes >= regle.seuil
      AND pr.nb_logements >= regle.seuil
      AND q.millesime = r.millesime AND q.residence_id = r.residence_id;
CREATE UNIQUE INDEX parc_residence_id ON diffusion.parc_residence (id);
CREATE INDEX parc_residence_millesime ON diffusion.parc_residence (millesime, residence_id);
CREATE INDEX parc_residence_geom ON diffusion.parc_residence USING gist (geom);
CREATE INDEX parc_residence_geom_4326 ON diffusion.parc_residence USING gist (geom_4326);

CREATE VIEW core.parc_territoire_publie AS
WITH regle AS (SELECT seuil FROM core.parametre_secret),
millesimes AS (SELECT DISTINCT millesime FROM core.residence)
SELECT t.echelle, t.code || '-' || m.millesime AS id, t.code, t.nom, t.code_insee, m.millesime,
       coalesce(s.statut, 'Z') AS statut_secret,
       CASE WHEN coalesce(s.statut, 'Z') = 'Z' THEN 0 ELSE p.nb_logements END AS nb_logements,
       p.nb_plai, p.nb_plus, p.nb_pls, p.nb_pli, p.nb_t1, p.nb_t2, p.nb_t3, p.nb_t4,
       p.nb_t5_plus, p.nb_individuels, p.nb_dpe_a_b, p.nb_dpe_c_e, p.nb_dpe_f_g,
       p.nb_vacants, p.nb_vacants_3_mois, p.nb_emmenagements,
       round(100.0 * p.nb_plai / nullif(p.nb_logements, 0), 1) AS part_plai,
       round(p.surface_totale / nullif(p.nb_logements, 0), 1) AS surface_moyenne,
       round(100.0 * p.nb_vacants / nullif(p.nb_logements, 0), 1) AS taux_vacance,
       round(100.0 * p.nb_emmenagements / nullif(p.nb_logements, 0), 1) AS taux_rotation,
       round(100.0 * p.nb_dpe_f_g / nullif(p.nb_logements, 0), 1) AS part_dpe_f_g,
       CASE WHEN p.nb_loyer_renseigne >= regle.seuil
            THEN round(p.loyer_total / nullif(p.surface_louee, 0), 2) END AS loyer_m2,
       coalesce(sq.statut, 'Z') AS statut_quittance,
       q.nb_logements_renseignes AS nb_quittances,
       round((q.loyer_total + q.charges_total) / nullif(q.nb_logements_renseignes, 0), 0) AS quittance_moyenne,
       round(q.charges_total / nullif(q.nb_logements_renseignes, 0), 0) AS charges_moyennes,
       q.nb_quittance_inf_400, q.nb_quittance_400_550, q.nb_quittance_550_700, q.nb_quittance_sup_700,
       t.geom
FROM core.territoire t
CROSS JOIN millesimes m
CROSS JOIN regle
LEFT JOIN core.secret_statut s
       ON s.theme = 'parc' AND s.millesime = m.millesime AND s.echelle = t.echelle AND s.code = t.code
LEFT JOIN core.parc_par_territoire p
       ON s.statut = 'P' AND p.millesime = m.millesime AND p.echelle = t.echelle
      AND p.code = t.code AND p.nb_logements >= regle.seuil
LEFT JOIN core.secret_statut sq
       ON sq.theme = 'quittance' AND sq.millesime = m.millesime AND sq.echelle = t.echelle
      AND sq.code = t.code
LEFT JOIN core.quittance_par_territoire q
       ON sq.statut = 'P' AND q.millesime = m.millesime AND q.echelle = t.echelle
      AND q.code = t.code AND q.nb_logements_renseignes >= regle.seuil;

CREATE MATERIALIZED VIEW diffusion.parc_iris AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'iris') v;
ALTER MATERIALIZED VIEW diffusion.parc_iris RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_iris_id ON diffusion.parc_iris (id);
CREATE INDEX parc_iris_millesime ON diffusion.parc_iris (millesime, code);
CREATE INDEX parc_iris_geom ON diffusion.parc_iris USING gist (geom);
CREATE INDEX parc_iris_geom_4326 ON diffusion.parc_iris USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.parc_qpv AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'qpv') v;
ALTER MATERIALIZED VIEW diffusion.parc_qpv RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_qpv_id ON diffusion.parc_qpv (id);
CREATE INDEX parc_qpv_millesime ON diffusion.parc_qpv (millesime, code);
CREATE INDEX parc_qpv_geom ON diffusion.parc_qpv USING gist (geom);
CREATE INDEX parc_qpv_geom_4326 ON diffusion.parc_qpv USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.parc_commune AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'commune') v;
ALTER MATERIALIZED VIEW diffusion.parc_commune RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_commune_id ON diffusion.parc_commune (id);
CREATE INDEX parc_commune_millesime ON diffusion.parc_commune (millesime, code);
CREATE INDEX parc_commune_geom ON diffusion.parc_commune USING gist (geom);
CREATE INDEX parc_commune_geom_4326 ON diffusion.parc_commune USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.parc_mel AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'mel') v;
ALTER MATERIALIZED VIEW diffusion.parc_mel RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_mel_id ON diffusion.parc_mel (id);
CREATE INDEX parc_mel_millesime ON diffusion.parc_mel (millesime, code);
CREATE INDEX parc_mel_geom ON diffusion.parc_mel USING gist (geom);
CREATE INDEX parc_mel_geom_4326 ON diffusion.parc_mel USING gist (geom_4326);

GRANT SELECT ON diffusion.parc_residence, diffusion.parc_iris, diffusion.parc_qpv,
    diffusion.parc_commune, diffusion.parc_mel TO lls_service;
