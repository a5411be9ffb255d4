-- diffusion.equipements: equipment and services (INSEE BPE), published as the producer gives them.
CREATE MATERIALIZED VIEW diffusion.equipements AS
SELECT equipement_id || '-' || millesime AS id, equipement_id, millesime, typequ, domaine,
       code_insee, qualite_xy, geom, ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.bpe_equipement;
CREATE UNIQUE INDEX equipements_id ON diffusion.equipements (id);
CREATE INDEX equipements_millesime ON diffusion.equipements (millesime);
CREATE INDEX equipements_geom ON diffusion.equipements USING gist (geom);
CREATE INDEX equipements_geom_4326 ON diffusion.equipements USING gist (geom_4326);
