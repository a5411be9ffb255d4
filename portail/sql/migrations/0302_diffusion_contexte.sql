-- Published context layers: equipment, schools, FINESS, transport stops, the
-- INSEE 200 m grid, neighbourhood diagnosis and fragility index, QPV framing
-- indicators, territory outlines, and the proximity of each résidence.
-- Published as they are: their producers already protected them (INSEE's grid
-- is itself under statistical secrecy), and nothing here counts households of
-- one résidence. Same shape as the theme views: id, millésime, geom (2154), geom_4326.

CREATE MATERIALIZED VIEW diffusion.equipements AS
SELECT equipement_id || '-' || millesime AS id, equipement_id, millesime, typequ, domaine,
       code_insee, qualite_xy, geom, ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.bpe_equipement;

CREATE MATERIALIZED VIEW diffusion.etablissements_scolaires AS
SELECT uai || '-' || millesime AS id, uai, millesime, nom, nature, secteur, classement_rep,
       code_insee, geom, ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.etablissement_scolaire;

CREATE MATERIALIZED VIEW diffusion.etablissements_finess AS
SELECT nofinesset || '-' || millesime AS id, nofinesset, millesime, raison_sociale, categetab,
       libcategetab, categagretab, code_insee, geom,
       ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.finess_etablissement;

CREATE MATERIALIZED VIEW diffusion.arrets_transport AS
SELECT stop_id || '-' || millesime AS id, stop_id, millesime, stop_name, mode, code_insee, geom,
       ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.arret_tc;

CREATE MATERIALIZED VIEW diffusion.carreaux_200m AS
SELECT idcar_200m || '-' || millesime AS id, idcar_200m, millesime, ind, men, men_pauv,
       men_1ind, men_5ind, men_fmp, men_prop, ind_snv, log_soc, ind_0_17, ind_65_plus,
       round(ind_snv / nullif(ind, 0), 0) AS niveau_vie_moyen,
       round(100.0 * men_pauv / nullif(men, 0), 1) AS part_menages_pauvres,
       geom::geometry(Polygon, 2154) AS geom,
       ST_Transform(geom, 4326)::geometry(Polygon, 4326) AS geom_4326
FROM core.filosofi_carreau;

CREATE MATERIALIZED VIEW diffusion.diagnostic_quartiers AS
SELECT d.niveau || '-' || d.code || '-' || d.millesime AS id, d.niveau, d.code, t.nom, d.millesime,
       d.population, d.nb_menages, d.menages_parc_social, d.menages_parc_prive,
       d.menages_pauvres, d.menages_monoparentaux, d.actifs, d.chomeurs, d.pop_15_plus,
       d.sans_diplome, d.allocataires_caf, d.allocataires_caf_bas_revenus,
       round(100.0 * d.menages_parc_social / nullif(d.nb_menages, 0), 1) AS part_parc_social,
       round(100.0 * d.menages_pauvres / nullif(d.nb_menages, 0), 1) AS part_menages_pauvres,
       round(100.0 * d.chomeurs / nullif(d.actifs, 0), 1) AS taux_chomage,
       d.indice_fragilite,
       t.geom, ST_Transform(t.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.diagnostic_quartier d
JOIN core.territoire t ON t.echelle = lower(d.niveau) AND t.code = d.code;

CREATE MATERIALIZED VIEW diffusion.indicateurs_qpv AS
SELECT i.code_qpv || '-' || i.indicateur || '-' || i.millesime AS id, i.code_qpv, q.nom_qpv,
       i.millesime, i.indicateur, i.valeur, i.numerateur, i.denominateur, i.source,
       q.geom, ST_Transform(q.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.qpv_indicateur i
JOIN core.qpv q USING (code_qpv);

CREATE MATERIALIZED VIEW diffusion.iris AS
SELECT code_iris AS id, code_iris, nom_iris, insee_com AS code_insee, typ_iris, millesime,
       geom, ST_Transform(geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.iris;

CREATE MATERIALIZED VIEW diffusion.qpv AS
SELECT code_qpv AS id, code_qpv, nom_qpv, array_to_string(communes, ',') AS communes, millesime,
       geom, ST_Transform(geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM core.qpv;

-- Proximity of each résidence: location-derived (public positions of stops and
-- equipment), so it is shown for every résidence, including small ones.
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

DO $$
DECLARE v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['equipements', 'etablissements_scolaires', 'etablissements_finess',
                             'arrets_transport', 'carreaux_200m', 'diagnostic_quartiers',
                             'indicateurs_qpv', 'iris', 'qpv', 'proximite_residence'] LOOP
        EXECUTE format('CREATE UNIQUE INDEX %I ON diffusion.%I (id)', v || '_id', v);
        EXECUTE format('CREATE INDEX %I ON diffusion.%I (millesime)', v || '_millesime', v);
        EXECUTE format('CREATE INDEX %I ON diffusion.%I USING gist (geom)', v || '_geom', v);
        EXECUTE format('CREATE INDEX %I ON diffusion.%I USING gist (geom_4326)', v || '_geom_4326', v);
    END LOOP;
END $$;
