-- diffusion.attributions_commune: attributions at the commune scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.attributions_commune AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'commune') v;
ALTER MATERIALIZED VIEW diffusion.attributions_commune RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_commune_id ON diffusion.attributions_commune (id);
CREATE INDEX attributions_commune_millesime ON diffusion.attributions_commune (millesime, code);
CREATE INDEX attributions_commune_geom ON diffusion.attributions_commune USING gist (geom);
CREATE INDEX attributions_commune_geom_4326 ON diffusion.attributions_commune USING gist (geom_4326);
