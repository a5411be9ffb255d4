-- diffusion.commune: the communes of the MEL (no secret: territories), with a lon/lat copy so
-- that the default output and CRS84 boxes need no reprojection; indexes for the
-- OGC API's millésime, name filters and sorting.
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
CREATE INDEX diffusion_commune_millesime_idx ON diffusion.commune (millesime_cog, code_insee);
CREATE INDEX diffusion_commune_nom_idx ON diffusion.commune (nom text_pattern_ops);
CREATE INDEX diffusion_commune_nom_order_idx ON diffusion.commune (nom);
