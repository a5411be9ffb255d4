-- core.parc_par_residence: RPLS per résidence: additive counts and sums only; a count the source
-- does not give (vacancy, new leases of public RPLS files) is NULL unless every
-- dwelling of the résidence says.
CREATE MATERIALIZED VIEW core.parc_par_residence AS
SELECT l.millesime, l.residence_id,
       count(*)                                                     AS nb_logements,
       count(*) FILTER (WHERE l.financement = 'PLAI')               AS nb_plai,
       count(*) FILTER (WHERE l.financement = 'PLUS')               AS nb_plus,
       count(*) FILTER (WHERE l.financement = 'PLS')                AS nb_pls,
       count(*) FILTER (WHERE l.financement = 'PLI')                AS nb_pli,
       count(*) FILTER (WHERE l.nb_pieces = 1)                      AS nb_t1,
       count(*) FILTER (WHERE l.nb_pieces = 2)                      AS nb_t2,
       count(*) FILTER (WHERE l.nb_pieces = 3)                      AS nb_t3,
       count(*) FILTER (WHERE l.nb_pieces = 4)                      AS nb_t4,
       count(*) FILTER (WHERE l.nb_pieces >= 5)                     AS nb_t5_plus,
       count(*) FILTER (WHERE l.type_construction = 'I')            AS nb_individuels,
       count(*) FILTER (WHERE l.dpe_energie IN ('A', 'B'))          AS nb_dpe_a_b,
       count(*) FILTER (WHERE l.dpe_energie IN ('C', 'D', 'E'))     AS nb_dpe_c_e,
       count(*) FILTER (WHERE l.dpe_energie IN ('F', 'G'))          AS nb_dpe_f_g,
       CASE WHEN count(l.statut) = count(*)
            THEN count(*) FILTER (WHERE l.statut = 'vacant') END      AS nb_vacants,
       CASE WHEN count(l.vacant_plus_3_mois) = count(*)
            THEN count(*) FILTER (WHERE l.vacant_plus_3_mois) END     AS nb_vacants_3_mois,
       CASE WHEN count(l.emmenagement_annee) = count(*)
            THEN count(*) FILTER (WHERE l.emmenagement_annee) END     AS nb_emmenagements,
       count(*) FILTER (WHERE l.annee_construction >= l.millesime - 5) AS nb_recents_5_ans,
       coalesce(sum(l.surface_hab), 0)                              AS surface_totale,
       count(l.loyer_principal) FILTER (WHERE l.surface_hab > 0)    AS nb_loyer_renseigne,
       coalesce(sum(l.loyer_principal) FILTER (WHERE l.surface_hab > 0), 0) AS loyer_total,
       coalesce(sum(l.surface_hab) FILTER (WHERE l.loyer_principal IS NOT NULL), 0) AS surface_louee
FROM core.logement l
GROUP BY l.millesime, l.residence_id;
CREATE UNIQUE INDEX parc_par_residence_pk ON core.parc_par_residence (millesime, residence_id);
