-- Brute force at shared addresses (issue 16).
--
-- The staff of a town hall, a landlord or the MEL reach the portal from one
-- public address (their organisation's NAT or proxy). Under 0201, twenty
-- failures at that address, from any of them, locked everyone there for up to
-- an hour: one colleague's forgotten password (or a script with an old one)
-- stopped the whole office. The rules now tell a known pair (a login that
-- has succeeded from this address in the last 90 days) from the rest:
--
-- * a failure of a known pair counts against that login only: its counter at
--   this address (scope 'pair', key 'login address') and its own counter
--   (scope 'login'), never against the address;
-- * the address lock applies to logins unknown at that address only: a
--   correct password from a known pair passes an address lock;
-- * a known pair is held by its own lock (5 failures, 30 s doubling, 15 min
--   cap), so that someone at the same address cannot guess a colleague's
--   password without limit; the login lock set from elsewhere still does not
--   apply to it (0201: an attacker cannot lock a user out of his usual place).
--
-- What this leaves (docs/comptes.md, « Force brute ») : someone behind the same
-- shared address can try, against each login known there, about four
-- passwords an hour once the pair's lock is at its cap, and the address lock
-- does not stop him moving from one such login to the next.
ALTER TABLE register.login_throttle DROP CONSTRAINT login_throttle_scope_check;
ALTER TABLE register.login_throttle
    ADD CONSTRAINT login_throttle_scope_check CHECK (scope IN ('login', 'address', 'pair'));

-- Has this login succeeded from this address in the last 90 days?
CREATE FUNCTION register.gate_known_pair(p_login text, p_address inet)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = register, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM register.known_address k
                   WHERE k.login = p_login AND k.address = p_address
                     AND k.last_success_at > now() - interval '90 days')
$$;

-- When is this attempt locked out? NULL: not locked.
CREATE OR REPLACE FUNCTION register.gate_locked_until(p_login text, p_address inet)
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = register, pg_temp AS $$
    SELECT max(t.locked_until)
    FROM register.login_throttle t
    CROSS JOIN (SELECT register.gate_known_pair(p_login, p_address) AS known) k
    WHERE t.locked_until > now()
      AND CASE WHEN k.known
               THEN t.scope = 'pair' AND t.key = p_login || ' ' || host(p_address)
               ELSE (t.scope = 'address' AND t.key = host(p_address))
                    OR (t.scope = 'login' AND t.key = p_login)
          END
$$;

-- Record a failed attempt; returns the lock it triggers (NULL: none yet).
CREATE OR REPLACE FUNCTION register.gate_failure(p_login text, p_address inet)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = register, pg_temp AS $$
DECLARE
    r record;
    n integer;
    lock_until timestamptz;
    result timestamptz;
    known boolean := register.gate_known_pair(p_login, p_address);
BEGIN
    FOR r IN SELECT * FROM (VALUES ('login', p_login, 5, 900),
                                   ('pair', p_login || ' ' || host(p_address), 5, 900),
                                   ('address', host(p_address), 20, 3600))
                           AS v(scope, key, threshold, cap_seconds)
             WHERE v.scope = 'login' OR (v.scope = 'pair') = known
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
            -- The lock that holds this attempt's next try: the pair's for a known
            -- pair (the login lock does not apply there), else the login's or address's.
            IF r.scope <> 'login' OR NOT known THEN
                result := greatest(result, lock_until);
            END IF;
            PERFORM pg_notify('portail_register',
                              format('lock %s %s %s', r.scope,
                                     ceil(extract(epoch FROM lock_until - now())), r.key));
        END IF;
    END LOOP;
    IF random() < 0.01 THEN
        DELETE FROM register.login_throttle WHERE last_failure_at < now() - interval '1 day';
    END IF;
    RETURN result;
END $$;

REVOKE ALL ON FUNCTION register.gate_known_pair(text, inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION register.gate_known_pair(text, inet) TO lls_gate;
