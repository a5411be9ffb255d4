-- core.attributions_territoire_publiees: allocations per territory as published (3-year windows, never at
-- résidence scale; the in/out QPV split has its own status).
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
