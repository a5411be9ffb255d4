-- diffusion.parc_qpv: parc at the qpv scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.parc_qpv AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'qpv') v;
ALTER MATERIALIZED VIEW diffusion.parc_qpv RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_qpv_id ON diffusion.parc_qpv (id);
CREATE INDEX parc_qpv_millesime ON diffusion.parc_qpv (millesime, code);
CREATE INDEX parc_qpv_geom ON diffusion.parc_qpv USING gist (geom);
CREATE INDEX parc_qpv_geom_4326 ON diffusion.parc_qpv USING gist (geom_4326);
