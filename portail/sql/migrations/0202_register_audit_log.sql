-- Audit log of access (who, when, route, collection or process, status,
-- bytes), never a password. The gate writes it in batches (COPY) and cannot
-- read it back; the administrator exports it as CSV. Kept 12 months
-- (`portail-lls audit purge` removes older rows; the yearly review runs it).
CREATE TABLE register.audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    login       text,            -- NULL: no credentials, or a login that does not exist
    address     inet,
    method      text NOT NULL,
    route       text NOT NULL,   -- path only, no query string
    collection  text,
    process     text,
    status      smallint NOT NULL,
    bytes       bigint,
    duration_ms integer
);
-- Rows arrive in time order: a BRIN index is enough for ranges and costs nothing to write.
CREATE INDEX audit_log_at_brin ON register.audit_log USING brin (at);
GRANT INSERT ON register.audit_log TO lls_gate;
