-- diffusion.occupation_qpv: occupation at the qpv scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.occupation_qpv AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'qpv') v;
ALTER MATERIALIZED VIEW diffusion.occupation_qpv RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_qpv_id ON diffusion.occupation_qpv (id);
CREATE INDEX occupation_qpv_millesime ON diffusion.occupation_qpv (millesime, code);
CREATE INDEX occupation_qpv_geom ON diffusion.occupation_qpv USING gist (geom);
CREATE INDEX occupation_qpv_geom_4326 ON diffusion.occupation_qpv USING gist (geom_4326);
