-- core.occupation_par_territoire: occupation per territory (households and their breakdowns).
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
CREATE UNIQUE INDEX occupation_par_territoire_pk ON core.occupation_par_territoire (millesime, echelle, code);
