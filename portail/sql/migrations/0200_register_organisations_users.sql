-- The user register of the convention (article 5 and 7): organisations that
-- signed it, personal accounts with a nominative e-mail, role, review dates.
-- Extends the minimal register.account of 0003. The register is written by the
-- administrator CLI (owner role) and read by the gate role only; the data
-- service role has no USAGE on the schema at all.

-- Organisations: no account without a signed convention (date + deliberation).
-- Third parties (study offices, rehousing operators, associations) carry the
-- end date of their assignment: their accounts stop that day.
CREATE TABLE register.organisation (
    organisation_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    kind                text NOT NULL CHECK (kind IN ('mel', 'commune', 'bailleur', 'etat',
                                                     'departement', 'urh', 'action_logement',
                                                     'tiers')),
    convention_signed_on date NOT NULL,
    deliberation_ref    text NOT NULL CHECK (btrim(deliberation_ref) <> ''),
    assignment_ends_on  date,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT third_party_has_end_date
        CHECK ((kind = 'tiers') = (assignment_ends_on IS NOT NULL))
);

ALTER TABLE register.account
    ADD COLUMN full_name           text,
    ADD COLUMN email               text,
    ADD COLUMN email_exception     text,   -- reason recorded by the administrator
    ADD COLUMN organisation_id     integer REFERENCES register.organisation,
    ADD COLUMN role                text NOT NULL DEFAULT 'partner'
                                   CHECK (role IN ('partner', 'third_party', 'admin')),
    ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN expires_at          timestamptz,
    ADD COLUMN disabled_reason     text,
    ADD COLUMN reactivated_at      timestamptz;  -- restarts the "unused for a year" clock

-- Accounts made before the register (0003) have no organisation: they stay
-- disabled until the administrator attaches them to a signed convention.
UPDATE register.account
   SET disabled_at = coalesce(disabled_at, now()),
       disabled_reason = coalesce(disabled_reason, 'sans organisation signataire (migration 0200)')
 WHERE organisation_id IS NULL;

ALTER TABLE register.account
    ADD CONSTRAINT enabled_account_has_organisation
        CHECK (organisation_id IS NOT NULL OR disabled_at IS NOT NULL),
    ADD CONSTRAINT enabled_account_has_email
        CHECK (email IS NOT NULL OR disabled_at IS NOT NULL),
    ADD CONSTRAINT email_shape
        CHECK (email IS NULL OR email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$');
CREATE UNIQUE INDEX account_email_key ON register.account (lower(email));
CREATE INDEX account_organisation_idx ON register.account (organisation_id);

GRANT SELECT ON register.organisation TO lls_gate;

-- Cache invalidation: every gate worker LISTENs on this channel and drops the
-- cached credentials of the login named in the payload ('*': all of them).
-- Only changes that can refuse a login notify (not the gate's own
-- last_login_at updates), so the cost is nil in normal operation.
CREATE FUNCTION register.notify_account_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portail_register', OLD.login);
    RETURN NULL;
END $$;

CREATE TRIGGER account_changed
AFTER UPDATE OF login, password_hash, password_changed_at, disabled_at, expires_at,
                organisation_id, role, created_at, reactivated_at
   OR DELETE ON register.account
FOR EACH ROW EXECUTE FUNCTION register.notify_account_change();

CREATE FUNCTION register.notify_organisation_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portail_register', '*');
    RETURN NULL;
END $$;

CREATE TRIGGER organisation_changed
AFTER UPDATE OR DELETE ON register.organisation
FOR EACH STATEMENT EXECUTE FUNCTION register.notify_organisation_change();
