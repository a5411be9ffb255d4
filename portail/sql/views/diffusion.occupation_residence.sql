-- diffusion.occupation_residence: occupation per résidence (status P, parc not hidden, base over the
-- threshold).
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
