-- Metro and tram lines of the GTFS feed (issue 18: the map's background draws them under
-- the stations). One LineString per route and direction, in Lambert-93: the longest
-- shape of the route's trips (shapes.txt) when the feed has one, otherwise the stops of
-- its trip with the most stops, in stop_sequence order. Replaced per millésime with the
-- stops (etl/gtfs.py, in the same transaction). Published as diffusion.lignes_transport
-- (portail/sql/views): context data, no secrecy involved.
CREATE TABLE core.ligne_tc (
    millesime        smallint NOT NULL,
    route_id         text NOT NULL,
    direction_id     smallint NOT NULL DEFAULT 0,
    mode             text NOT NULL CHECK (mode IN ('metro', 'tram')),
    route_short_name text,
    route_long_name  text,
    route_color      text CHECK (route_color ~ '^[0-9A-F]{6}$'),
    nb_arrets        integer,
    trace            text NOT NULL CHECK (trace IN ('shapes', 'arrets')),
    geom             geometry(LineString, 2154) NOT NULL,
    PRIMARY KEY (millesime, route_id, direction_id)
);
CREATE INDEX ligne_tc_geom_idx ON core.ligne_tc USING gist (geom);
