-- The user's own change of password follows the account rules (article 7 of the
-- convention): only an account the gate would let in may change its password — or one
-- whose password is over a year old, which is exactly when the change is asked at login.
-- An account expired, unused for a year, disabled or whose third party's assignment has
-- ended keeps its password until the administrator acts (a session opened before the end
-- could otherwise renew it). Same signature: the grants of 0731 stay.
CREATE OR REPLACE FUNCTION register.gate_change_password(p_login text, p_current_hash text,
                                                         p_new_hash text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = register, pg_temp AS $$
    UPDATE register.account a
       SET password_hash = p_new_hash, password_changed_at = now()
     WHERE a.login = p_login AND a.password_hash = p_current_hash
       AND EXISTS (SELECT 1 FROM register.account_status s
                    WHERE s.login = a.login
                      AND (s.refusal IS NULL OR s.refusal = 'password_stale'))
    RETURNING true
$$;
