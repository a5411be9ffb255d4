-- diffusion.attributions_iris: attributions at the iris scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.attributions_iris AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'iris') v;
ALTER MATERIALIZED VIEW diffusion.attributions_iris RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_iris_id ON diffusion.attributions_iris (id);
CREATE INDEX attributions_iris_millesime ON diffusion.attributions_iris (millesime, code);
CREATE INDEX attributions_iris_geom ON diffusion.attributions_iris USING gist (geom);
CREATE INDEX attributions_iris_geom_4326 ON diffusion.attributions_iris USING gist (geom_4326);
