-- The convention's account rules, in one place used by both the gate (at
-- login) and the administrator's yearly review, and the brute-force throttle.
--
-- Rules (article 7 of the convention): an account unused for one year is
-- deactivated; passwords are renewed every year; a third party's access stops
-- at the end of its assignment; a disabled account is re-enabled only by the
-- administrator.
CREATE VIEW register.account_status AS
SELECT a.login,
       a.password_hash,
       a.full_name,
       a.email,
       a.role,
       o.name AS organisation,
       o.kind AS organisation_kind,
       o.assignment_ends_on,
       a.created_at,
       a.last_login_at,
       greatest(a.last_login_at, a.created_at, a.reactivated_at) AS last_active_at,
       a.password_changed_at,
       a.expires_at,
       a.disabled_at,
       a.disabled_reason,
       CASE
           WHEN a.disabled_at IS NOT NULL THEN 'disabled'
           WHEN o.organisation_id IS NULL THEN 'disabled'
           WHEN o.assignment_ends_on < current_date THEN 'assignment_ended'
           WHEN a.expires_at <= now() THEN 'expired'
           WHEN greatest(a.last_login_at, a.created_at, a.reactivated_at)
                < now() - interval '1 year' THEN 'unused'
           WHEN a.password_changed_at < now() - interval '1 year' THEN 'password_stale'
       END AS refusal
FROM register.account a
LEFT JOIN register.organisation o USING (organisation_id);
GRANT SELECT ON register.account_status TO lls_gate;

-- Brute force: failures counted per login and per address; past a threshold,
-- a temporary lock that doubles with each further failure, capped (15 min per
-- login, 1 h per address), and forgotten after an hour without failure.
-- A login lock does not apply to an address from which that login succeeded
-- in the last 90 days: an attacker cannot lock a user out of his usual place.
CREATE TABLE register.login_throttle (
    scope           text NOT NULL CHECK (scope IN ('login', 'address')),
    key             text NOT NULL,
    failures        integer NOT NULL CHECK (failures > 0),
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz,
    PRIMARY KEY (scope, key)
);

CREATE TABLE register.known_address (
    login           text NOT NULL REFERENCES register.account ON UPDATE CASCADE ON DELETE CASCADE,
    address         inet NOT NULL,
    last_success_at timestamptz NOT NULL,
    PRIMARY KEY (login, address)
);

-- When is this attempt locked out? NULL: not locked.
CREATE FUNCTION register.gate_locked_until(p_login text, p_address inet)
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = register, pg_temp AS $$
    SELECT max(t.locked_until)
    FROM register.login_throttle t
    WHERE t.locked_until > now()
      AND ((t.scope = 'address' AND t.key = host(p_address))
           OR (t.scope = 'login' AND t.key = p_login
               AND NOT EXISTS (SELECT 1 FROM register.known_address k
                               WHERE k.login = p_login AND k.address = p_address
                                 AND k.last_success_at > now() - interval '90 days')))
$$;

-- Record a failed attempt; returns the lock it triggers (NULL: none yet).
CREATE FUNCTION register.gate_failure(p_login text, p_address inet)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = register, pg_temp AS $$
DECLARE
    r record;
    n integer;
    lock_until timestamptz;
    result timestamptz;
BEGIN
    FOR r IN SELECT * FROM (VALUES ('login', p_login, 5, 900),
                                   ('address', host(p_address), 20, 3600))
                           AS v(scope, key, threshold, cap_seconds)
    LOOP
        INSERT INTO register.login_throttle AS t (scope, key, failures, last_failure_at)
        VALUES (r.scope, r.key, 1, now())
        ON CONFLICT (scope, key) DO UPDATE
            SET failures = CASE WHEN t.last_failure_at < now() - interval '1 hour'
                                THEN 1 ELSE t.failures + 1 END,
                last_failure_at = now()
        RETURNING failures INTO n;
        IF n >= r.threshold THEN
            lock_until := now() + make_interval(
                secs => least(r.cap_seconds, 30 * 2 ^ least(n - r.threshold, 20)));
            UPDATE register.login_throttle SET locked_until = lock_until
             WHERE scope = r.scope AND key = r.key;
            result := greatest(result, lock_until);
            -- Workers stop trusting their cached credentials for this login or
            -- address until the lock ends: a right guess must not slip through.
            PERFORM pg_notify('portail_register',
                              format('lock %s %s %s', r.scope,
                                     ceil(extract(epoch FROM lock_until - now())), r.key));
        END IF;
    END LOOP;
    -- Keep the table small: forget what has been quiet for a day.
    IF random() < 0.01 THEN
        DELETE FROM register.login_throttle WHERE last_failure_at < now() - interval '1 day';
    END IF;
    RETURN result;
END $$;

-- Record a successful login (password right, account allowed).
CREATE FUNCTION register.gate_success(p_login text, p_address inet)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = register, pg_temp AS $$
    UPDATE register.account SET last_login_at = now() WHERE login = p_login;
    INSERT INTO register.known_address (login, address, last_success_at)
    VALUES (p_login, p_address, now())
    ON CONFLICT (login, address) DO UPDATE SET last_success_at = now();
$$;

-- Deactivate an account found unused for a year at login; the rule is checked
-- here again, so the gate role cannot disable an account that is in use.
CREATE FUNCTION register.gate_deactivate_unused(p_login text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = register, pg_temp AS $$
    UPDATE register.account a
       SET disabled_at = now(), disabled_reason = 'inutilisé depuis plus d''un an'
     WHERE a.login = p_login AND a.disabled_at IS NULL
       AND greatest(a.last_login_at, a.created_at, a.reactivated_at) < now() - interval '1 year'
    RETURNING true;
$$;

GRANT EXECUTE ON FUNCTION register.gate_locked_until(text, inet),
                          register.gate_failure(text, inet),
                          register.gate_success(text, inet),
                          register.gate_deactivate_unused(text) TO lls_gate;
