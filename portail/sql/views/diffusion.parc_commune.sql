-- diffusion.parc_commune: parc at the commune scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.parc_commune AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'commune') v;
ALTER MATERIALIZED VIEW diffusion.parc_commune RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_commune_id ON diffusion.parc_commune (id);
CREATE INDEX parc_commune_millesime ON diffusion.parc_commune (millesime, code);
CREATE INDEX parc_commune_geom ON diffusion.parc_commune USING gist (geom);
CREATE INDEX parc_commune_geom_4326 ON diffusion.parc_commune USING gist (geom_4326);
