-- diffusion.qpv: QPV outlines.
CREATE MATERIALIZED VIEW diffusion.qpv AS
SELECT code_qpv AS id, code_qpv, nom_qpv, array_to_string(communes, ',') AS communes, millesime,
       geom, ST_Transform(geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.qpv;
CREATE UNIQUE INDEX qpv_id ON diffusion.qpv (id);
CREATE INDEX qpv_millesime ON diffusion.qpv (millesime);
CREATE INDEX qpv_geom ON diffusion.qpv USING gist (geom);
CREATE INDEX qpv_geom_4326 ON diffusion.qpv USING gist (geom_4326);
