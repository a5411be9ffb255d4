-- diffusion.carreaux_200m: INSEE's 200 m grid (Filosofi), under its producer's own secrecy.
CREATE MATERIALIZED VIEW diffusion.carreaux_200m AS
SELECT idcar_200m || '-' || millesime AS id, idcar_200m, millesime, ind, men, men_pauv,
       men_1ind, men_5ind, men_fmp, men_prop, ind_snv, log_soc, ind_0_17, ind_65_plus,
       round(ind_snv / nullif(ind, 0), 0) AS niveau_vie_moyen,
       round(100.0 * men_pauv / nullif(men, 0), 1) AS part_menages_pauvres,
       geom::geometry(Polygon, 2154) AS geom,
       ST_Transform(geom, 4326)::geometry(Polygon, 4326) AS geom_4326
FROM core.filosofi_carreau;
CREATE UNIQUE INDEX carreaux_200m_id ON diffusion.carreaux_200m (id);
CREATE INDEX carreaux_200m_millesime ON diffusion.carreaux_200m (millesime);
CREATE INDEX carreaux_200m_geom ON diffusion.carreaux_200m USING gist (geom);
CREATE INDEX carreaux_200m_geom_4326 ON diffusion.carreaux_200m USING gist (geom_4326);
