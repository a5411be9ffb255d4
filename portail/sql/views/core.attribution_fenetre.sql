-- core.attribution_fenetre: allocations of each 3-year window ending a year where the three years
-- are loaded (the window's last year is its millésime).
CREATE VIEW core.attribution_fenetre AS
WITH regle AS (SELECT fenetre_attributions AS n FROM core.parametre_secret),
annees AS (SELECT DISTINCT annee FROM core.attribution),
fenetres AS (
    SELECT a.annee AS fin, a.annee - regle.n + 1 AS debut
    FROM annees a, regle
    WHERE (SELECT count(*) FROM annees b WHERE b.annee BETWEEN a.annee - regle.n + 1 AND a.annee) = regle.n
)
SELECT f.fin AS fenetre_fin, f.debut, c.*
FROM fenetres f
JOIN core.attribution c ON c.annee BETWEEN f.debut AND f.fin;
