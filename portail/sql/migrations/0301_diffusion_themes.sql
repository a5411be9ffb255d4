-- Published views of the three themes at every scale. Each row keeps its
-- identifier, geometry, millésime and secrecy status; every figure is joined
-- only when the status is P (published) AND the base reaches the threshold (a
-- second, independent guard). Materialised: refreshed at each publication.

-- Territory outlines, one row per IRIS / QPV / commune, plus the MEL.
CREATE MATERIALIZED VIEW core.territoire AS
SELECT 'iris'::text AS echelle, code_iris AS code, nom_iris AS nom, insee_com AS code_insee, geom
FROM core.iris
UNION ALL
SELECT 'qpv', code_qpv, nom_qpv, communes[1], geom FROM core.qpv
UNION ALL
SELECT 'commune', code_insee, nom, code_insee, geom FROM core.commune
UNION ALL
SELECT 'mel', 'MEL', 'Métropole Européenne de Lille', NULL,
       ST_Multi(ST_Union(geom))::geometry(MultiPolygon, 2154)
FROM core.commune HAVING count(*) > 0;
CREATE UNIQUE INDEX territoire_pk ON core.territoire (echelle, code);

-- === Parc ===========================================================================
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

-- Parc per territory: one view per scale over one shared definition.
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

-- === Occupation =====================================================================
CREATE VIEW core.occupation_publiee AS
WITH regle AS (SELECT seuil FROM core.parametre_secret)
SELECT 'residence'::text AS echelle, o.millesime, o.residence_id AS code, o.nb_menages,
       o.menages_1_pers, o.menages_2_pers, o.menages_3_4_pers, o.menages_5_pers_plus,
       o.menages_monoparentaux, o.menages_ress_inf_20, o.menages_ress_20_60,
       o.menages_ress_60_100, o.menages_ress_sup_100, o.menages_ress_inconnues,
       o.titulaires_moins_30, o.titulaires_30_64, o.titulaires_65_plus, o.titulaires_emploi,
       o.titulaires_chomage, o.titulaires_inactifs, o.menages_apl
FROM core.occupation o
UNION ALL
SELECT echelle, millesime, code, nb_menages, menages_1_pers, menages_2_pers, menages_3_4_pers,
       menages_5_pers_plus, menages_monoparentaux, menages_ress_inf_20, menages_ress_20_60,
       menages_ress_60_100, menages_ress_sup_100, menages_ress_inconnues, titulaires_moins_30,
       titulaires_30_64, titulaires_65_plus, titulaires_emploi, titulaires_chomage,
       titulaires_inactifs, menages_apl
FROM core.occupation_par_territoire;

CREATE VIEW core.occupation_figures AS
SELECT o.*,
       round(100.0 * (o.menages_ress_inf_20 + o.menages_ress_20_60) / nullif(o.nb_menages, 0), 1)
           AS part_ress_inf_60,
       round(100.0 * o.menages_1_pers / nullif(o.nb_menages, 0), 1) AS part_1_pers,
       round(100.0 * o.menages_5_pers_plus / nullif(o.nb_menages, 0), 1) AS part_5_pers_plus,
       round(100.0 * o.menages_monoparentaux / nullif(o.nb_menages, 0), 1) AS part_monoparentaux,
       round(100.0 * o.titulaires_65_plus / nullif(o.nb_menages, 0), 1) AS part_65_plus,
       round(100.0 * o.titulaires_emploi / nullif(o.nb_menages, 0), 1) AS part_emploi,
       round(100.0 * o.menages_apl / nullif(o.nb_menages, 0), 1) AS part_apl
FROM core.occupation_publiee o;

CREATE MATERIALIZED VIEW diffusion.occupation_residence AS
WITH regle AS (SELECT seuil FROM core.parametre_secret)
SELECT r.residence_id || '-' || r.millesime AS id, r.residence_id, r.millesime,
       coalesce(s.statut, CASE WHEN ps.statut = 'P' THEN 'Z' ELSE 'S' END) AS statut_secret,
       CASE WHEN s.statut = 'Z' THEN 0 ELSE f.nb_menages END AS nb_menages, f.menages_1_pers, f.menages_2_pers, f.menages_3_4_pers,
       f.menages_5_pers_plus, f.menages_monoparentaux, f.menages_ress_inf_20,
       f.menages_ress_20_60, f.menages_ress_60_100, f.menages_ress_sup_100,
       f.menages_ress_inconnues, f.titulaires_moins_30, f.titulaires_30_64,
       f.titulaires_65_plus, f.titulaires_emploi, f.titulaires_chomage, f.titulaires_inactifs,
       f.menages_apl, f.part_ress_inf_60, f.part_1_pers, f.part_5_pers_plus,
       f.part_monoparentaux, f.part_65_plus, f.part_emploi, f.part_apl,
       r.geom, ST_Transform(r.geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.residence r
CROSS JOIN regle
LEFT JOIN core.secret_statut ps
       ON ps.theme = 'parc' AND ps.millesime = r.millesime AND ps.echelle = 'residence'
      AND ps.code = r.residence_id
LEFT JOIN core.secret_statut s
       ON s.theme = 'occupation' AND s.millesime = r.millesime AND s.echelle = 'residence'
      AND s.code = r.residence_id
LEFT JOIN core.occupation_figures f
       ON s.statut = 'P' AND ps.statut <> 'S' AND r.nb_logements >= regle.seuil
      AND f.nb_menages >= regle.seuil
      AND f.echelle = 'residence' AND f.millesime = r.millesime AND f.code = r.residence_id;
CREATE UNIQUE INDEX occupation_residence_id ON diffusion.occupation_residence (id);
CREATE INDEX occupation_residence_millesime ON diffusion.occupation_residence (millesime, residence_id);
CREATE INDEX occupation_residence_geom ON diffusion.occupation_residence USING gist (geom);
CREATE INDEX occupation_residence_geom_4326 ON diffusion.occupation_residence USING gist (geom_4326);

CREATE VIEW core.occupation_territoire_publiee AS
WITH regle AS (SELECT seuil FROM core.parametre_secret),
millesimes AS (SELECT DISTINCT millesime FROM core.occupation)
SELECT t.echelle, t.code || '-' || m.millesime AS id, t.code, t.nom, t.code_insee, m.millesime,
       coalesce(s.statut, 'Z') AS statut_secret,
       CASE WHEN coalesce(s.statut, 'Z') = 'Z' THEN 0 ELSE f.nb_menages END AS nb_menages,
       f.menages_1_pers, f.menages_2_pers, f.menages_3_4_pers,
       f.menages_5_pers_plus, f.menages_monoparentaux, f.menages_ress_inf_20,
       f.menages_ress_20_60, f.menages_ress_60_100, f.menages_ress_sup_100,
       f.menages_ress_inconnues, f.titulaires_moins_30, f.titulaires_30_64,
       f.titulaires_65_plus, f.titulaires_emploi, f.titulaires_chomage, f.titulaires_inactifs,
       f.menages_apl, f.part_ress_inf_60, f.part_1_pers, f.part_5_pers_plus,
       f.part_monoparentaux, f.part_65_plus, f.part_emploi, f.part_apl,
       t.geom
FROM core.territoire t
CROSS JOIN millesimes m
CROSS JOIN regle
LEFT JOIN core.secret_statut s
       ON s.theme = 'occupation' AND s.millesime = m.millesime AND s.echelle = t.echelle
      AND s.code = t.code
LEFT JOIN core.occupation_figures f
       ON s.statut = 'P' AND f.nb_menages >= regle.seuil AND f.echelle = t.echelle
      AND f.millesime = m.millesime AND f.code = t.code;

-- === Attributions (3-year windows, never at résidence scale) ==========================
CREATE VIEW core.attributions_territoire_publiees AS
WITH regle AS (SELECT seuil FROM core.parametre_secret),
millesimes AS (SELECT DISTINCT millesime, debut FROM core.attributions_par_territoire
               WHERE echelle = 'mel')
SELECT t.echelle, t.code || '-' || m.millesime AS id, t.code, t.nom, t.code_insee, m.millesime,
       m.debut || '-' || m.millesime AS periode,
       coalesce(s.statut, 'Z') AS statut_secret,
       CASE WHEN coalesce(s.statut, 'Z') = 'Z' THEN 0 ELSE a.nb_attributions END AS nb_attributions,
       a.nb_q1, a.nb_q2, a.nb_q3, a.nb_q4, a.nb_q_inconnu, a.nb_dalo,
       a.nb_prioritaire_hors_dalo, a.nb_non_prioritaire, a.nb_taille_1, a.nb_taille_2,
       a.nb_taille_3, a.nb_taille_4, a.nb_taille_5_plus, a.nb_t1, a.nb_t2, a.nb_t3, a.nb_t4,
       a.nb_t5_plus,
       round(100.0 * a.nb_q1 / nullif(a.nb_attributions, 0), 1) AS part_q1,
       round(100.0 * a.nb_dalo / nullif(a.nb_attributions, 0), 1) AS part_dalo,
       -- The in/out QPV split has its own status: its parts are figures too.
       CASE WHEN t.echelle NOT IN ('commune', 'mel') THEN 'N'
            WHEN 'S' IN (sh.statut, se.statut) THEN 'S'
            WHEN 'C' IN (sh.statut, se.statut) THEN 'C'
            WHEN 'P' IN (sh.statut, se.statut) THEN 'P'
            ELSE 'Z' END AS statut_qpv,
       CASE WHEN split.code IS NOT NULL THEN coalesce(split.nb_hors_qpv, 0) END AS nb_hors_qpv,
       CASE WHEN split.code IS NOT NULL THEN coalesce(split.nb_q1_hors_qpv, 0) END AS nb_q1_hors_qpv,
       round(100.0 * split.nb_q1_hors_qpv / nullif(split.nb_hors_qpv, 0), 1) AS part_q1_hors_qpv,
       CASE WHEN split.code IS NOT NULL THEN coalesce(split.nb_en_qpv, 0) END AS nb_en_qpv,
       CASE WHEN split.code IS NOT NULL THEN coalesce(split.nb_q2_q4_en_qpv, 0) END AS nb_q2_q4_en_qpv,
       round(100.0 * split.nb_q2_q4_en_qpv / nullif(split.nb_en_qpv, 0), 1) AS part_q2_q4_en_qpv,
       t.geom
FROM core.territoire t
CROSS JOIN millesimes m
CROSS JOIN regle
LEFT JOIN core.secret_statut s
       ON s.theme = 'attributions' AND s.millesime = m.millesime AND s.echelle = t.echelle
      AND s.code = t.code
LEFT JOIN core.attributions_par_territoire a
       ON s.statut = 'P' AND a.nb_attributions >= regle.seuil AND a.echelle = t.echelle
      AND a.millesime = m.millesime AND a.code = t.code
LEFT JOIN core.secret_statut sh
       ON sh.theme = 'attributions' AND sh.millesime = m.millesime
      AND sh.echelle = t.echelle || '-hors-qpv' AND sh.code = t.code
LEFT JOIN core.secret_statut se
       ON se.theme = 'attributions' AND se.millesime = m.millesime
      AND se.echelle = t.echelle || '-en-qpv' AND se.code = t.code
LEFT JOIN core.attributions_par_territoire split
       ON t.echelle IN ('commune', 'mel')
      AND coalesce(sh.statut, 'Z') IN ('P', 'Z') AND coalesce(se.statut, 'Z') IN ('P', 'Z')
      AND coalesce(split.nb_hors_qpv, 0) NOT BETWEEN 1 AND regle.seuil - 1
      AND coalesce(split.nb_en_qpv, 0) NOT BETWEEN 1 AND regle.seuil - 1
      AND split.echelle = t.echelle AND split.millesime = m.millesime AND split.code = t.code
WHERE t.echelle <> 'residence';

-- Per-scale published views (one collection each).

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

CREATE MATERIALIZED VIEW diffusion.occupation_iris AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'iris') v;
ALTER MATERIALIZED VIEW diffusion.occupation_iris RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_iris_id ON diffusion.occupation_iris (id);
CREATE INDEX occupation_iris_millesime ON diffusion.occupation_iris (millesime, code);
CREATE INDEX occupation_iris_geom ON diffusion.occupation_iris USING gist (geom);
CREATE INDEX occupation_iris_geom_4326 ON diffusion.occupation_iris USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.occupation_qpv AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'qpv') v;
ALTER MATERIALIZED VIEW diffusion.occupation_qpv RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_qpv_id ON diffusion.occupation_qpv (id);
CREATE INDEX occupation_qpv_millesime ON diffusion.occupation_qpv (millesime, code);
CREATE INDEX occupation_qpv_geom ON diffusion.occupation_qpv USING gist (geom);
CREATE INDEX occupation_qpv_geom_4326 ON diffusion.occupation_qpv USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.occupation_commune AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'commune') v;
ALTER MATERIALIZED VIEW diffusion.occupation_commune RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_commune_id ON diffusion.occupation_commune (id);
CREATE INDEX occupation_commune_millesime ON diffusion.occupation_commune (millesime, code);
CREATE INDEX occupation_commune_geom ON diffusion.occupation_commune USING gist (geom);
CREATE INDEX occupation_commune_geom_4326 ON diffusion.occupation_commune USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.occupation_mel AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'mel') v;
ALTER MATERIALIZED VIEW diffusion.occupation_mel RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_mel_id ON diffusion.occupation_mel (id);
CREATE INDEX occupation_mel_millesime ON diffusion.occupation_mel (millesime, code);
CREATE INDEX occupation_mel_geom ON diffusion.occupation_mel USING gist (geom);
CREATE INDEX occupation_mel_geom_4326 ON diffusion.occupation_mel USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.attributions_iris AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'iris') v;
ALTER MATERIALIZED VIEW diffusion.attributions_iris RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_iris_id ON diffusion.attributions_iris (id);
CREATE INDEX attributions_iris_millesime ON diffusion.attributions_iris (millesime, code);
CREATE INDEX attributions_iris_geom ON diffusion.attributions_iris USING gist (geom);
CREATE INDEX attributions_iris_geom_4326 ON diffusion.attributions_iris USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.attributions_qpv AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'qpv') v;
ALTER MATERIALIZED VIEW diffusion.attributions_qpv RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_qpv_id ON diffusion.attributions_qpv (id);
CREATE INDEX attributions_qpv_millesime ON diffusion.attributions_qpv (millesime, code);
CREATE INDEX attributions_qpv_geom ON diffusion.attributions_qpv USING gist (geom);
CREATE INDEX attributions_qpv_geom_4326 ON diffusion.attributions_qpv USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.attributions_commune AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'commune') v;
ALTER MATERIALIZED VIEW diffusion.attributions_commune RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_commune_id ON diffusion.attributions_commune (id);
CREATE INDEX attributions_commune_millesime ON diffusion.attributions_commune (millesime, code);
CREATE INDEX attributions_commune_geom ON diffusion.attributions_commune USING gist (geom);
CREATE INDEX attributions_commune_geom_4326 ON diffusion.attributions_commune USING gist (geom_4326);

CREATE MATERIALIZED VIEW diffusion.attributions_mel AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'mel') v;
ALTER MATERIALIZED VIEW diffusion.attributions_mel RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_mel_id ON diffusion.attributions_mel (id);
CREATE INDEX attributions_mel_millesime ON diffusion.attributions_mel (millesime, code);
CREATE INDEX attributions_mel_geom ON diffusion.attributions_mel USING gist (geom);
CREATE INDEX attributions_mel_geom_4326 ON diffusion.attributions_mel USING gist (geom_4326);
