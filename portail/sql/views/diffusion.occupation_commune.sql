-- diffusion.occupation_commune: occupation at the commune scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.occupation_commune AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'commune') v;
ALTER MATERIALIZED VIEW diffusion.occupation_commune RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_commune_id ON diffusion.occupation_commune (id);
CREATE INDEX occupation_commune_millesime ON diffusion.occupation_commune (millesime, code);
CREATE INDEX occupation_commune_geom ON diffusion.occupation_commune USING gist (geom);
CREATE INDEX occupation_commune_geom_4326 ON diffusion.occupation_commune USING gist (geom_4326);
