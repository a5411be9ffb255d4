-- core.occupation_territoire_publiee: occupation per territory as published (status P and base over the
-- threshold); one definition for the four scale views.
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
