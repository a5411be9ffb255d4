-- Indexes for what the OGC API filters and sorts the published communes on
-- (issue 5): the millésime (the `datetime` parameter, and the index skip scan
-- that lists loaded millésimes) and the name (equality filters, LIKE 'prefix%'
-- and sortby=nom). EXPLAIN checks of the benchmark queries are in docs/api.md.
CREATE INDEX diffusion_commune_millesime_idx ON diffusion.commune (millesime_cog, code_insee);
CREATE INDEX diffusion_commune_nom_idx ON diffusion.commune (nom text_pattern_ops);
CREATE INDEX diffusion_commune_nom_order_idx ON diffusion.commune (nom);
