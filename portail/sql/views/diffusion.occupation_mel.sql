-- diffusion.occupation_mel: occupation at the mel scale (one collection), from the shared definition.
CREATE MATERIALIZED VIEW diffusion.occupation_mel AS
SELECT v.*, ST_Transform(v.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM (SELECT p.* FROM core.occupation_territoire_publiee p WHERE p.echelle = 'mel') v;
ALTER MATERIALIZED VIEW diffusion.occupation_mel RENAME COLUMN echelle TO echelle_territoire;
CREATE UNIQUE INDEX occupation_mel_id ON diffusion.occupation_mel (id);
CREATE INDEX occupation_mel_millesime ON diffusion.occupation_mel (millesime, code);
CREATE INDEX occupation_mel_geom ON diffusion.occupation_mel USING gist (geom);
CREATE INDEX occupation_mel_geom_4326 ON diffusion.occupation_mel USING gist (geom_4326);
