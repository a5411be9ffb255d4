-- Why: the readiness check (/ready, portail.observability) must tell whether the
-- database is at the schema version of the running code. It runs on the gate
-- role's pool (the primary); the gate role may read the list of applied
-- migrations (versions, checksums, dates: nothing secret), nothing else there.
GRANT USAGE ON SCHEMA portail_meta TO lls_gate;
GRANT SELECT ON portail_meta.schema_migration TO lls_gate;
