-- diffusion.etablissements_scolaires: schools (rectorat).
CREATE MATERIALIZED VIEW diffusion.etablissements_scolaires AS
SELECT uai || '-' || millesime AS id, uai, millesime, nom, nature, secteur, classement_rep,
       code_insee, geom, ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.etablissement_scolaire;
CREATE UNIQUE INDEX etablissements_scolaires_id ON diffusion.etablissements_scolaires (id);
CREATE INDEX etablissements_scolaires_millesime ON diffusion.etablissements_scolaires (millesime);
CREATE INDEX etablissements_scolaires_geom ON diffusion.etablissements_scolaires USING gist (geom);
CREATE INDEX etablissements_scolaires_geom_4326 ON diffusion.etablissements_scolaires USING gist (geom_4326);
