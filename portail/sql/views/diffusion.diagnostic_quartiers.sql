-- diffusion.diagnostic_quartiers: the MEL's neighbourhood diagnosis: every count under the threshold
-- is blank, and every ratio built on a blank; the social/private split falls
-- together and wherever occupation hides the same territory's households; the
-- fragility index falls with any of its counts.
CREATE MATERIALIZED VIEW diffusion.diagnostic_quartiers AS
WITH regle AS (SELECT seuil FROM core.parametre_secret),
shown AS (
    SELECT d.*,
           d.population NOT BETWEEN 1 AND regle.seuil - 1 AS ok_population,
           d.nb_menages NOT BETWEEN 1 AND regle.seuil - 1 AS ok_menages,
           d.menages_parc_social NOT BETWEEN 1 AND regle.seuil - 1
               AND d.menages_parc_prive NOT BETWEEN 1 AND regle.seuil - 1
               AND d.nb_menages NOT BETWEEN 1 AND regle.seuil - 1
               AND NOT EXISTS (
                   SELECT 1 FROM core.secret_statut o
                   WHERE o.theme = 'occupation' AND o.echelle = lower(d.niveau)
                     AND o.code = d.code AND o.statut = 'S'
                     AND (o.millesime = d.millesime OR NOT EXISTS (
                          SELECT 1 FROM core.secret_statut o2
                          WHERE o2.theme = 'occupation' AND o2.millesime = d.millesime)))
               AS ok_parcs,
           d.menages_pauvres NOT BETWEEN 1 AND regle.seuil - 1 AS ok_pauvres,
           d.menages_monoparentaux NOT BETWEEN 1 AND regle.seuil - 1 AS ok_monoparentaux,
           d.actifs NOT BETWEEN 1 AND regle.seuil - 1 AS ok_actifs,
           d.chomeurs NOT BETWEEN 1 AND regle.seuil - 1 AS ok_chomeurs,
           d.pop_15_plus NOT BETWEEN 1 AND regle.seuil - 1 AS ok_pop_15_plus,
           d.sans_diplome NOT BETWEEN 1 AND regle.seuil - 1 AS ok_sans_diplome,
           d.allocataires_caf NOT BETWEEN 1 AND regle.seuil - 1 AS ok_caf,
           d.allocataires_caf_bas_revenus NOT BETWEEN 1 AND regle.seuil - 1 AS ok_caf_bas
    FROM core.diagnostic_quartier d CROSS JOIN regle
)
SELECT d.niveau || '-' || d.code || '-' || d.millesime AS id, d.niveau, d.code, t.nom, d.millesime,
       CASE WHEN d.ok_population AND d.ok_menages AND d.ok_parcs AND d.ok_pauvres
                 AND d.ok_monoparentaux AND d.ok_actifs AND d.ok_chomeurs AND d.ok_pop_15_plus
                 AND d.ok_sans_diplome AND d.ok_caf AND d.ok_caf_bas THEN 'P' ELSE 'S' END
           AS statut_secret,
       CASE WHEN d.ok_population THEN d.population END AS population,
       CASE WHEN d.ok_menages THEN d.nb_menages END AS nb_menages,
       CASE WHEN d.ok_parcs THEN d.menages_parc_social END AS menages_parc_social,
       CASE WHEN d.ok_parcs THEN d.menages_parc_prive END AS menages_parc_prive,
       CASE WHEN d.ok_pauvres THEN d.menages_pauvres END AS menages_pauvres,
       CASE WHEN d.ok_monoparentaux THEN d.menages_monoparentaux END AS menages_monoparentaux,
       CASE WHEN d.ok_actifs THEN d.actifs END AS actifs,
       CASE WHEN d.ok_chomeurs THEN d.chomeurs END AS chomeurs,
       CASE WHEN d.ok_pop_15_plus THEN d.pop_15_plus END AS pop_15_plus,
       CASE WHEN d.ok_sans_diplome THEN d.sans_diplome END AS sans_diplome,
       CASE WHEN d.ok_caf THEN d.allocataires_caf END AS allocataires_caf,
       CASE WHEN d.ok_caf_bas THEN d.allocataires_caf_bas_revenus END AS allocataires_caf_bas_revenus,
       CASE WHEN d.ok_parcs AND d.ok_menages
            THEN round(100.0 * d.menages_parc_social / nullif(d.nb_menages, 0), 1) END
           AS part_parc_social,
       CASE WHEN d.ok_pauvres AND d.ok_menages
            THEN round(100.0 * d.menages_pauvres / nullif(d.nb_menages, 0), 1) END
           AS part_menages_pauvres,
       CASE WHEN d.ok_chomeurs AND d.ok_actifs
            THEN round(100.0 * d.chomeurs / nullif(d.actifs, 0), 1) END AS taux_chomage,
       -- The index is built from five shares (poverty, lone parents, unemployment, no
       -- diploma, low-income CAF recipients): with one hidden, the others and the index
       -- would give it back. Published only with all of them.
       CASE WHEN d.ok_menages AND d.ok_pauvres AND d.ok_monoparentaux AND d.ok_actifs
                 AND d.ok_chomeurs AND d.ok_pop_15_plus AND d.ok_sans_diplome AND d.ok_caf
                 AND d.ok_caf_bas THEN d.indice_fragilite END AS indice_fragilite,
       t.geom, ST_Transform(t.geom, 4326)::geometry(MultiPolygon, 4326) AS geom_4326
FROM shown d
JOIN core.territoire t ON t.echelle = lower(d.niveau) AND t.code = d.code;
CREATE UNIQUE INDEX diagnostic_quartiers_id ON diffusion.diagnostic_quartiers (id);
CREATE INDEX diagnostic_quartiers_millesime ON diffusion.diagnostic_quartiers (millesime);
CREATE INDEX diagnostic_quartiers_geom ON diffusion.diagnostic_quartiers USING gist (geom);
CREATE INDEX diagnostic_quartiers_geom_4326 ON diffusion.diagnostic_quartiers USING gist (geom_4326);
