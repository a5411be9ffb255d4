-- core.occupation_figures: occupation shares computed from the counts.
CREATE VIEW core.occupation_figures AS
SELECT o.*,
       round(100.0 * (o.menages_ress_inf_20 + o.menages_ress_20_60) / nullif(o.nb_menages, 0), 1)
           AS part_ress_inf_60,
       round(100.0 * o.menages_1_pers / nullif(o.nb_menages, 0), 1) AS part_1_pers,
       round(100.0 * o.menages_5_pers_plus / nullif(o.nb_menages, 0), 1) AS part_5_pers_plus,
       round(100.0 * o.menages_monoparentaux / nullif(o.nb_menages, 0), 1) AS part_monoparentaux,
       round(100.0 * o.titulaires_65_plus / nullif(o.nb_menages, 0), 1) AS part_65_plus,
       round(100.0 * o.titulaires_emploi / nullif(o.nb_menages, 0), 1) AS part_emploi,
       round(100.0 * o.menages_apl / nullif(o.nb_menages, 0), 1) AS part_apl
FROM core.occupation_publiee o;
