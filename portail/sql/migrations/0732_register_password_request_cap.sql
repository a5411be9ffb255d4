-- « Mot de passe oublié » (0731) is a public form: without a bound, anyone could fill the
-- administrator's list (and mailbox, when SMTP is configured) with invented identifiers.
-- At most 5 pending requests from one address in a day; beyond, nothing is recorded (the
-- answer is the same). The function now says whether it recorded the request, so that
-- the administrator is mailed only for a recorded one.
DROP FUNCTION register.gate_request_password(text, inet);
CREATE FUNCTION register.gate_request_password(p_identifier text, p_address inet)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = register, pg_temp AS $$
    WITH added AS (
        INSERT INTO register.password_request (identifier, login, address)
        SELECT left(p_identifier, 254),
               (SELECT a.login FROM register.account a
                 WHERE a.login = p_identifier OR lower(a.email) = lower(p_identifier) LIMIT 1),
               p_address
        WHERE (SELECT count(*) FROM register.password_request r
                WHERE r.address = p_address AND r.handled_at IS NULL
                  AND r.requested_at > now() - interval '1 day') < 5
        ON CONFLICT (lower(identifier)) WHERE handled_at IS NULL DO NOTHING
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM added)
$$;
REVOKE ALL ON FUNCTION register.gate_request_password(text, inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION register.gate_request_password(text, inet) TO lls_gate;
