-- core.parc_territoire_publie: the parc per territory as published: every figure joined only when
-- its secrecy status is P and its base reaches the threshold; one definition
-- for the four scale views.
CREATE VIEW core.parc_territoire_publie AS
WITH regle AS (SELECT seuil FROM core.parametre_secret),
millesimes AS (SELECT DISTINCT millesime FROM core.residence)
SELECT t.echelle, t.code || '-' || m.millesime AS id, t.code, t.nom, t.code_insee, m.millesime,
       coalesce(s.statut, 'Z') AS statut_secret,
       CASE WHEN coalesce(s.statut, 'Z') = 'Z' THEN 0 ELSE p.nb_logements END AS nb_logements,
       p.nb_plai, p.nb_plus, p.nb_pls, p.nb_pli, p.nb_t1, p.nb_t2, p.nb_t3, p.nb_t4,
       p.nb_t5_plus, p.nb_individuels, p.nb_dpe_a_b, p.nb_dpe_c_e, p.nb_dpe_f_g,
       p.nb_vacants, p.nb_vacants_3_mois, p.nb_emmenagements,
       round(100.0 * p.nb_plai / nullif(p.nb_logements, 0), 1) AS part_plai,
       round(p.surface_totale / nullif(p.nb_logements, 0), 1) AS surface_moyenne,
       round(100.0 * p.nb_vacants / nullif(p.nb_logements, 0), 1) AS taux_vacance,
       round(100.0 * p.nb_emmenagements / nullif(p.nb_logements, 0), 1) AS taux_rotation,
       round(100.0 * p.nb_dpe_f_g / nullif(p.nb_logements, 0), 1) AS part_dpe_f_g,
       CASE WHEN p.nb_loyer_renseigne >= regle.seuil
            THEN round(p.loyer_total / nullif(p.surface_louee, 0), 2) END AS loyer_m2,
       coalesce(sq.statut, 'Z') AS statut_quittance,
       q.nb_logements_renseignes AS nb_quittances,
       round((q.loyer_total + q.charges_total) / nullif(q.nb_logements_renseignes, 0), 0) AS quittance_moyenne,
       round(q.charges_total / nullif(q.nb_logements_renseignes, 0), 0) AS charges_moyennes,
       q.nb_quittance_inf_400, q.nb_quittance_400_550, q.nb_quittance_550_700, q.nb_quittance_sup_700,
       t.geom
FROM core.territoire t
CROSS JOIN millesimes m
CROSS JOIN regle
LEFT JOIN core.secret_statut s
       ON s.theme = 'parc' AND s.millesime = m.millesime AND s.echelle = t.echelle AND s.code = t.code
LEFT JOIN core.parc_par_territoire p
       ON s.statut = 'P' AND p.millesime = m.millesime AND p.echelle = t.echelle
      AND p.code = t.code AND p.nb_logements >= regle.seuil
LEFT JOIN core.secret_statut sq
       ON sq.theme = 'quittance' AND sq.millesime = m.millesime AND sq.echelle = t.echelle
      AND sq.code = t.code
LEFT JOIN core.quittance_par_territoire q
       ON sq.statut = 'P' AND q.millesime = m.millesime AND q.echelle = t.echelle
      AND q.code = t.code AND q.nb_logements_renseignes >= regle.seuil;
