-- core.quittance_par_territoire: rent + service charges (MEL study) per territory.
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
CREATE UNIQUE INDEX quittance_par_territoire_pk ON core.quittance_par_territoire (millesime, echelle, code);
