-- The web login (issue 16): what the gate role may do for a signed-in user,
-- each through a SECURITY DEFINER function that checks its own rule.
--
-- * gate_change_password: the user's own password, after the app verified the
--   current one (argon2 in Python); compare-and-swap on the current hash, so a
--   change made meanwhile (the administrator's reset) is never overwritten;
-- * gate_recent_logins: the user's own last logins, from the access log that the
--   gate otherwise cannot read back (« Mon compte »);
-- * gate_request_password: « Mot de passe oublié » records a request that the
--   administrator sees; at most one pending request per identifier is kept,
--   whatever is typed (nothing tells whether it exists).

CREATE FUNCTION register.gate_change_password(p_login text, p_current_hash text,
                                              p_new_hash text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = register, pg_temp AS $$
    UPDATE register.account
       SET password_hash = p_new_hash, password_changed_at = now()
     WHERE login = p_login AND password_hash = p_current_hash AND disabled_at IS NULL
    RETURNING true
$$;

CREATE FUNCTION register.gate_recent_logins(p_login text, p_limit integer DEFAULT 10)
RETURNS TABLE (day date, address inet, requests bigint, first_at timestamptz,
               last_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = register, pg_temp AS $$
    SELECT (l.at AT TIME ZONE 'Europe/Paris')::date, l.address, count(*), min(l.at), max(l.at)
    FROM register.audit_log l
    WHERE l.login = p_login AND l.at > now() - interval '1 year' AND l.status < 400
    GROUP BY 1, 2
    ORDER BY max(l.at) DESC
    LIMIT least(p_limit, 50)
$$;

CREATE TABLE register.password_request (
    request_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier   text NOT NULL CHECK (length(identifier) BETWEEN 1 AND 254),
    login        text REFERENCES register.account ON UPDATE CASCADE ON DELETE CASCADE,
    address      inet,
    requested_at timestamptz NOT NULL DEFAULT now(),
    handled_at   timestamptz,
    handled_by   text
);
CREATE UNIQUE INDEX password_request_pending ON register.password_request (lower(identifier))
    WHERE handled_at IS NULL;

CREATE FUNCTION register.gate_request_password(p_identifier text, p_address inet)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = register, pg_temp AS $$
    INSERT INTO register.password_request (identifier, login, address)
    SELECT left(p_identifier, 254),
           (SELECT a.login FROM register.account a
             WHERE a.login = p_identifier OR lower(a.email) = lower(p_identifier) LIMIT 1),
           p_address
    ON CONFLICT (lower(identifier)) WHERE handled_at IS NULL DO NOTHING
$$;

REVOKE ALL ON FUNCTION register.gate_change_password(text, text, text),
                       register.gate_recent_logins(text, integer),
                       register.gate_request_password(text, inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION register.gate_change_password(text, text, text),
                          register.gate_recent_logins(text, integer),
                          register.gate_request_password(text, inet) TO lls_gate;
