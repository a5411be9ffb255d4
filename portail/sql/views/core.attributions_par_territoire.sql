-- core.attributions_par_territoire: allocations per window and territory, also split inside / outside
-- QPV (the legal objectives are stated on that split).
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
CREATE UNIQUE INDEX attributions_par_territoire_pk ON core.attributions_par_territoire (millesime, echelle, code);
