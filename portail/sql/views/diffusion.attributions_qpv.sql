-- diffusion.attributions_qpv: attributions at the qpv scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.attributions_qpv AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'qpv') v;
ALTER MATERIALIZED VIEW diffusion.attributions_qpv RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_qpv_id ON diffusion.attributions_qpv (id);
CREATE INDEX attributions_qpv_millesime ON diffusion.attributions_qpv (millesime, code);
CREATE INDEX attributions_qpv_geom ON diffusion.attributions_qpv USING gist (geom);
CREATE INDEX attributions_qpv_geom_4326 ON diffusion.attributions_qpv USING gist (geom_4326);
