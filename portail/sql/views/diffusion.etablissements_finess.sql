-- diffusion.etablissements_finess: health and social establishments (FINESS).
CREATE MATERIALIZED VIEW diffusion.etablissements_finess AS
SELECT nofinesset || '-' || millesime AS id, nofinesset, millesime, raison_sociale, categetab,
       libcategetab, categagretab, code_insee, geom,
       ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.finess_etablissement;
CREATE UNIQUE INDEX etablissements_finess_id ON diffusion.etablissements_finess (id);
CREATE INDEX etablissements_finess_millesime ON diffusion.etablissements_finess (millesime);
CREATE INDEX etablissements_finess_geom ON diffusion.etablissements_finess USING gist (geom);
CREATE INDEX etablissements_finess_geom_4326 ON diffusion.etablissements_finess USING gist (geom_4326);
