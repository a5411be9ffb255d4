-- diffusion.arrets_transport: public transport stops (GTFS).
CREATE MATERIALIZED VIEW diffusion.arrets_transport AS
SELECT stop_id || '-' || millesime AS id, stop_id, millesime, stop_name, mode, code_insee, geom,
       ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.arret_tc;
CREATE UNIQUE INDEX arrets_transport_id ON diffusion.arrets_transport (id);
CREATE INDEX arrets_transport_millesime ON diffusion.arrets_transport (millesime);
CREATE INDEX arrets_transport_geom ON diffusion.arrets_transport USING gist (geom);
CREATE INDEX arrets_transport_geom_4326 ON diffusion.arrets_transport USING gist (geom_4326);
