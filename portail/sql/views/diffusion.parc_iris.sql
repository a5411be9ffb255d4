-- diffusion.parc_iris: parc at the iris scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.parc_iris AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'iris') v;
ALTER MATERIALIZED VIEW diffusion.parc_iris RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_iris_id ON diffusion.parc_iris (id);
CREATE INDEX parc_iris_millesime ON diffusion.parc_iris (millesime, code);
CREATE INDEX parc_iris_geom ON diffusion.parc_iris USING gist (geom);
CREATE INDEX parc_iris_geom_4326 ON diffusion.parc_iris USING gist (geom_4326);
