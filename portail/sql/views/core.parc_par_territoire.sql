-- core.parc_par_territoire: the same counts per territory (IRIS, QPV, commune, MEL), from the
-- résidences; a sum is NULL unless every résidence's count is known.
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
CREATE UNIQUE INDEX parc_par_territoire_pk ON core.parc_par_territoire (millesime, echelle, code);
