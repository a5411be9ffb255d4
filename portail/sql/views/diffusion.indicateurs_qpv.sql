-- diffusion.indicateurs_qpv: QPV framing indicators, under their producers' rules.
CREATE MATERIALIZED VIEW diffusion.indicateurs_qpv AS
SELECT i.code_qpv || '-' || i.indicateur || '-' || i.millesime AS id, i.code_qpv, q.nom_qpv,
       i.millesime, i.indicateur, i.valeur, i.numerateur, i.denominateur, i.source,
       q.geom, ST_Transform(q.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.qpv_indicateur i
JOIN core.qpv q USING (code_qpv);
CREATE UNIQUE INDEX indicateurs_qpv_id ON diffusion.indicateurs_qpv (id);
CREATE INDEX indicateurs_qpv_millesime ON diffusion.indicateurs_qpv (millesime);
CREATE INDEX indicateurs_qpv_geom ON diffusion.indicateurs_qpv USING gist (geom);
CREATE INDEX indicateurs_qpv_geom_4326 ON diffusion.indicateurs_qpv USING gist (geom_4326);
