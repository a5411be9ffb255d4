-- diffusion.data_version: the version of the publication served (the key of every cache);
-- each publication (core.publication) bumps it.
CREATE VIEW diffusion.data_version AS
SELECT coalesce(max(data_version), 0) AS data_version, max(published_at) AS published_at
FROM core.publication;
