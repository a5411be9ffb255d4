-- Minimal account register for the login gate (the full register with
-- organisations, review dates and audit log extends it). Read by the gate
-- role only; the data service role has no access to this schema.
CREATE TABLE register.account (
    login         text PRIMARY KEY CHECK (login ~ '^[A-Za-z0-9._@-]{2,128}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    disabled_at   timestamptz
);
GRANT SELECT ON register.account TO lls_gate;
GRANT UPDATE (last_login_at) ON register.account TO lls_gate;
