-- diffusion.lignes_transport: metro and tram lines (GTFS), one row per route and
-- direction, drawn by the map's background under the stations. Context data: no secrecy;
-- read by lls_service through the schema's default privileges (0001), like the other views.
CREATE MATERIALIZED VIEW diffusion.lignes_transport AS
SELECT route_id || '-' || direction_id || '-' || millesime AS id, route_id, direction_id,
       millesime, mode, route_short_name, route_long_name, route_color, nb_arrets, trace, geom,
       ST_Transform(geom, 4326)::geometry(LineString, 4326) AS geom_4326
FROM core.ligne_tc;
CREATE UNIQUE INDEX lignes_transport_id ON diffusion.lignes_transport (id);
CREATE INDEX lignes_transport_millesime ON diffusion.lignes_transport (millesime);
CREATE INDEX lignes_transport_geom ON diffusion.lignes_transport USING gist (geom);
CREATE INDEX lignes_transport_geom_4326 ON diffusion.lignes_transport USING gist (geom_4326);
