-- diffusion.attributions_mel: attributions at the mel scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.attributions_mel AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.attributions_territoire_publiees p WHERE p.echelle = 'mel') v;
ALTER MATERIALIZED VIEW diffusion.attributions_mel RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX attributions_mel_id ON diffusion.attributions_mel (id);
CREATE INDEX attributions_mel_millesime ON diffusion.attributions_mel (millesime, code);
CREATE INDEX attributions_mel_geom ON diffusion.attributions_mel USING gist (geom);
CREATE INDEX attributions_mel_geom_4326 ON diffusion.attributions_mel USING gist (geom_4326);
