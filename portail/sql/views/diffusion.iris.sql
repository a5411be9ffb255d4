-- diffusion.iris: IRIS outlines.
CREATE MATERIALIZED VIEW diffusion.iris AS
SELECT code_iris AS id, code_iris, nom_iris, insee_com AS code_insee, typ_iris, millesime,
       geom, ST_Transform(geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.iris;
CREATE UNIQUE INDEX iris_id ON diffusion.iris (id);
CREATE INDEX iris_millesime ON diffusion.iris (millesime);
CREATE INDEX iris_geom ON diffusion.iris USING gist (geom);
CREATE INDEX iris_geom_4326 ON diffusion.iris USING gist (geom_4326);
