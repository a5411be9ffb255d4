-- core.occupation_publiee: occupation per résidence and per territory, one shape.
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
