-- diffusion.occupation_iris: occupation at the iris scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.occupation_iris AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'iris') v;
ALTER MATERIALIZED VIEW diffusion.occupation_iris RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_iris_id ON diffusion.occupation_iris (id);
CREATE INDEX occupation_iris_millesime ON diffusion.occupation_iris (millesime, code);
CREATE INDEX occupation_iris_geom ON diffusion.occupation_iris USING gist (geom);
CREATE INDEX occupation_iris_geom_4326 ON diffusion.occupation_iris USING gist (geom_4326);
