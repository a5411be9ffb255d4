-- Communes of the MEL (COG): core table in Lambert-93 and its published view.
-- Territories carry no secret; the view still is the only path to the service.
CREATE TABLE core.commune (
    code_insee            text PRIMARY KEY CHECK (code_insee ~ '^[0-9][0-9AB][0-9]{3}$'),
    nom                   text NOT NULL CHECK (nom <> ''),
    siren                 text,
    code_epci             text,
    population_municipale integer CHECK (population_municipale >= 0),
    population_totale     integer CHECK (population_totale >= 0),
    codes_postaux         text,
    millesime_cog         smallint NOT NULL,
    source                text NOT NULL,
    geom                  geometry(MultiPolygon, 2154) NOT NULL
);
CREATE INDEX commune_geom_idx ON core.commune USING gist (geom);

-- Published: storage geometry (EPSG:2154) plus a CRS84 copy so that the
-- default output and CRS84 bbox filters need no per-request reprojection.
CREATE MATERIALIZED VIEW diffusion.commune AS
SELECT code_insee,
       nom,
       code_epci,
       population_municipale,
       population_totale,
       codes_postaux,
       millesime_cog,
       geom,
       ST_Transform(geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.commune;
CREATE UNIQUE INDEX diffusion_commune_pk ON diffusion.commune (code_insee);
CREATE INDEX diffusion_commune_geom_idx ON diffusion.commune USING gist (geom);
CREATE INDEX diffusion_commune_geom_4326_idx ON diffusion.commune USING gist (geom_4326);
