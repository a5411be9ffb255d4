-- diffusion.parc_residence: the parc per résidence: every résidence is drawn, its figures only
-- when its status is P and it holds at least the threshold of dwellings.
CREATE MATERIALIZED VIEW diffusion.parc_residence AS
WITH regle AS (SELECT seuil FROM core.parametre_secret)
SELECT r.residence_id || '-' || r.millesime AS id,
       r.residence_id, r.millesime,
       coalesce(s.statut, 'S') AS statut_secret,
       CASE WHEN pub.ok THEN r.bailleur END AS bailleur,
       CASE WHEN pub.ok THEN r.adresse END AS adresse,
       CASE WHEN pub.ok THEN r.code_insee END AS code_insee,
       CASE WHEN pub.ok THEN r.code_iris END AS code_iris,
       CASE WHEN pub.ok THEN r.code_qpv END AS code_qpv,
       CASE WHEN pub.ok THEN r.annee_construction END AS annee_construction,
       p.nb_logements, p.nb_plai, p.nb_plus, p.nb_pls, p.nb_pli,
       p.nb_t1, p.nb_t2, p.nb_t3, p.nb_t4, p.nb_t5_plus, p.nb_individuels,
       p.nb_dpe_a_b, p.nb_dpe_c_e, p.nb_dpe_f_g, p.nb_vacants, p.nb_vacants_3_mois,
       p.nb_emmenagements,
       round(100.0 * p.nb_plai / nullif(p.nb_logements, 0), 1) AS part_plai,
       round(p.surface_totale / nullif(p.nb_logements, 0), 1) AS surface_moyenne,
       round(100.0 * p.nb_vacants / nullif(p.nb_logements, 0), 1) AS taux_vacance,
       round(100.0 * p.nb_emmenagements / nullif(p.nb_logements, 0), 1) AS taux_rotation,
       round(100.0 * p.nb_dpe_f_g / nullif(p.nb_logements, 0), 1) AS part_dpe_f_g,
       CASE WHEN p.nb_loyer_renseigne >= regle.seuil
            THEN round(p.loyer_total / nullif(p.surface_louee, 0), 2) END AS loyer_m2,
       coalesce(sq.statut, CASE WHEN coalesce(s.statut, 'S') = 'S' THEN 'S' ELSE 'Z' END)
           AS statut_quittance,
       q.nb_logements_renseignes AS nb_quittances,
       round((q.loyer_total + q.charges_total) / nullif(q.nb_logements_renseignes, 0), 0) AS quittance_moyenne,
       round(q.charges_total / nullif(q.nb_logements_renseignes, 0), 0) AS charges_moyennes,
       q.nb_quittance_inf_400, q.nb_quittance_400_550, q.nb_quittance_550_700, q.nb_quittance_sup_700,
       r.geom,
       ST_Transform(r.geom, 4326)::geometry(Point, 4326) AS geom_4326
FROM core.residence r
CROSS JOIN regle
LEFT JOIN core.secret_statut s
       ON s.theme = 'parc' AND s.millesime = r.millesime AND s.echelle = 'residence'
      AND s.code = r.residence_id
LEFT JOIN core.parc_par_residence pr
       ON pr.millesime = r.millesime AND pr.residence_id = r.residence_id
CROSS JOIN LATERAL (SELECT s.statut = 'P' AND pr.nb_logements >= regle.seuil AS ok) pub
LEFT JOIN core.parc_par_residence p
       ON pub.ok AND p.millesime = r.millesime AND p.residence_id = r.residence_id
LEFT JOIN core.secret_statut sq
       ON sq.theme = 'quittance' AND sq.millesime = r.millesime
      AND sq.echelle = 'residence' AND sq.code = r.residence_id
LEFT JOIN core.loyer_charges q
       ON sq.statut = 'P' AND q.nb_logements_renseignes >= regle.seuil
      AND pr.nb_logements >= regle.seuil
      AND q.millesime = r.millesime AND q.residence_id = r.residence_id;
CREATE UNIQUE INDEX parc_residence_id ON diffusion.parc_residence (id);
CREATE INDEX parc_residence_millesime ON diffusion.parc_residence (millesime, residence_id);
CREATE INDEX parc_residence_geom ON diffusion.parc_residence USING gist (geom);
CREATE INDEX parc_residence_geom_4326 ON diffusion.parc_residence USING gist (geom_4326);
