-- diffusion.proximite_residence: proximity of each résidence to stops and equipment: location-derived,
-- shown for every résidence, small ones included.
CREATE MATERIALIZED VIEW diffusion.proximite_residence AS
SELECT p.residence_id || '-' || p.millesime AS id, p.residence_id, p.millesime,
       p.dist_metro_tram_m, p.arret_metro_tram, p.dist_bus_m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'A') AS nb_services_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'B') AS nb_commerces_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'C') AS nb_enseignement_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'D') AS nb_sante_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'E') AS nb_transports_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'F') AS nb_sports_culture_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'G') AS nb_tourisme_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'ecole') AS nb_colleges_lycees_500m,
       sum(e.nb_500m) FILTER (WHERE e.famille = 'finess') AS nb_finess_500m,
       r.geom, ST_Transform(r.geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.proximite p
JOIN core.residence r USING (millesime, residence_id)
LEFT JOIN core.proximite_equipement e USING (millesime, residence_id)
GROUP BY p.millesime, p.residence_id, p.dist_metro_tram_m, p.arret_metro_tram, p.dist_bus_m, r.geom;
CREATE UNIQUE INDEX proximite_residence_id ON diffusion.proximite_residence (id);
CREATE INDEX proximite_residence_millesime ON diffusion.proximite_residence (millesime);
CREATE INDEX proximite_residence_geom ON diffusion.proximite_residence USING gist (geom);
CREATE INDEX proximite_residence_geom_4326 ON diffusion.proximite_residence USING gist (geom_4326);
