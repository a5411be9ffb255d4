-- diffusion.millesimes_charges: what each millésime loaded brought (the load ledger,
-- core.load), for the home page's « ce qui a changé » : source, year, when, the layout
-- detected and the fields that the producer's file did not have. No figure of the data:
-- no row count, no file name (the home page is public).
CREATE VIEW diffusion.millesimes_charges AS
SELECT source, millesime, loaded_at, disposition, champs_absents, fictif
FROM core.load;
