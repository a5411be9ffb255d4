-- Schemas by trust level. staging: raw loads; core: checked data, never
-- readable by the service role; diffusion: the published views, the only thing
-- the service role (pygeoapi) reads; register: accounts, read by the gate only.
CREATE SCHEMA staging;
CREATE SCHEMA core;
CREATE SCHEMA diffusion;
CREATE SCHEMA register;

GRANT USAGE ON SCHEMA diffusion TO lls_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA diffusion GRANT SELECT ON TABLES TO lls_service;
GRANT USAGE ON SCHEMA register TO lls_gate;

-- Functions the owner writes are not callable by everyone (PostgreSQL's default).
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Each publication (a millésime loaded or republished) bumps the data version,
-- the key of every cache (counts, pages, rendered sheets).
CREATE TABLE core.publication (
    data_version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    published_at timestamptz NOT NULL DEFAULT now(),
    what         text NOT NULL
);

CREATE VIEW diffusion.data_version AS
SELECT coalesce(max(data_version), 0) AS data_version, max(published_at) AS published_at
FROM core.publication;
