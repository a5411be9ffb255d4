-- diffusion.parc_mel: parc at the mel scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.parc_mel AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.parc_territoire_publie p WHERE p.echelle = 'mel') v;
ALTER MATERIALIZED VIEW diffusion.parc_mel RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX parc_mel_id ON diffusion.parc_mel (id);
CREATE INDEX parc_mel_millesime ON diffusion.parc_mel (millesime, code);
CREATE INDEX parc_mel_geom ON diffusion.parc_mel USING gist (geom);
CREATE INDEX parc_mel_geom_4326 ON diffusion.parc_mel USING gist (geom_4326);
