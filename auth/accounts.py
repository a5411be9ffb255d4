"""Login of an account at the gate, and the demo/test account helper.

``authenticate`` applies, in this order: the brute-force lock (login and
address), the password (argon2id, the same work for an unknown login), then
the convention's rules. The reason of a refusal is told only to someone who
gave the right password; anyone else gets the same 401 whether the login
exists or not.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg.rows import dict_row

from auth.passwords import hash_password, verify_password
from auth.register import LOGIN_RE, add_organisation, add_user, check_password, organisation
from auth.rules import refusal_message, refusal_message_en
from portail.db import connect
from portail.errors import UserError

LOGGER = logging.getLogger(__name__)

# Longest login string kept in the throttle table (a login is at most 128).
_MAX_KEY = 128


@dataclass(frozen=True)
class Account:
    login: str
    role: str
    organisation: str


@dataclass(frozen=True)
class Outcome:
    """What the gate answers: ``ok`` (200 path), ``bad`` (401), ``locked`` (429), ``refused`` (401 with the reason)."""
    kind: str
    account: Account | None = None
    message: str | None = None
    retry_after: int | None = None
    lifetime: float | None = None   # seconds this verification may be cached
    known_login: str | None = None  # for the audit log: the login, only if it exists
    refusal: str | None = None      # the rule that refused a right password (``refused``)
    password_changed_at: object = None   # for the web session's stamp (``ok``, ``refused``)
    message_en: str | None = None   # ``message`` in English, for the web pages (``refused``)


_ACCOUNT_QUERY = """
SELECT login, password_hash, role, organisation, refusal, disabled_at, disabled_reason,
       password_changed_at, assignment_ends_on, expires_at,
       extract(epoch FROM least(expires_at,
                                (assignment_ends_on + 1)::timestamptz,
                                password_changed_at + interval '1 year') - now()) AS seconds_left
FROM register.account_status WHERE login = %s"""


def _bookkeeping(conn: psycopg.Connection, query: str, params: list):
    """A write of the gate (failure count, last login); skipped on a read-only database.

    A read-only database (a standby, or default_transaction_read_only during a
    maintenance) still serves the published data: logins are checked as usual,
    but failures cannot be counted until it is writable again (logged).
    """
    try:
        return conn.execute(query, params).fetchone()[0]
    except psycopg.errors.ReadOnlySqlTransaction:
        LOGGER.warning("register is read-only: login bookkeeping skipped")
        return None


def authenticate(conn: psycopg.Connection, login: str, password: str, address: str) -> Outcome:
    """Check a login attempt against the register (gate role connection)."""
    key = login[:_MAX_KEY]
    locked = conn.execute("SELECT ceil(extract(epoch FROM register.gate_locked_until(%s, %s::inet)"
                          " - now()))", [key, address]).fetchone()[0]
    if locked is not None and locked > 0:
        LOGGER.warning("login refused, locked for %ss: address=%s", int(locked), address)
        return Outcome("locked", retry_after=int(locked))
    row = None
    if LOGIN_RE.match(login):
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(_ACCOUNT_QUERY, [login]).fetchone()
    # Same argon2 work whether the login exists or not: no enumeration by timing.
    if not verify_password(row["password_hash"] if row else None, password):
        until = _bookkeeping(conn, "SELECT register.gate_failure(%s, %s::inet)", [key, address])
        if until is not None:
            LOGGER.warning("brute force: lock until %s after repeated failures, login=%s "
                           "address=%s", until.isoformat(timespec="seconds"),
                           row["login"] if row else "(inconnu)", address)
        return Outcome("bad", known_login=row["login"] if row else None)
    refusal = row["refusal"]
    if refusal == "unused":
        _bookkeeping(conn, "SELECT register.gate_deactivate_unused(%s)", [login])
    if refusal is not None:
        LOGGER.info("login refused (%s): login=%s", refusal, login)
        return Outcome("refused", message=refusal_message(refusal, row), known_login=login,
                       refusal=refusal, password_changed_at=row["password_changed_at"],
                       message_en=refusal_message_en(refusal, row))
    _bookkeeping(conn, "SELECT register.gate_success(%s, %s::inet)", [login, address])
    left = row["seconds_left"]
    return Outcome("ok", account=Account(login, row["role"], row["organisation"]),
                   lifetime=None if left is None else max(0.0, math.floor(float(left))),
                   known_login=login, password_changed_at=row["password_changed_at"])


def session_account(conn: psycopg.Connection, login: str, stamp: str,
                    must_change: bool = False) -> Outcome:
    """Is a signed-in browser session still good? The same rules as at login, checked
    again on each request: the account must still be allowed (a session waiting for a
    new password also when only its password is stale) and its password unchanged
    since the session began (a new password ends the other sessions)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_ACCOUNT_QUERY, [login]).fetchone()
    if row is None or (row["password_changed_at"].isoformat()
                       if row["password_changed_at"] else "") != stamp:
        return Outcome("bad")
    allowed = (None, "password_stale") if must_change else (None,)
    if row["refusal"] not in allowed:
        return Outcome("refused", message=refusal_message(row["refusal"], row),
                       known_login=login, refusal=row["refusal"],
                       message_en=refusal_message_en(row["refusal"], row))
    left = row["seconds_left"]
    return Outcome("ok", account=Account(login, row["role"], row["organisation"]),
                   lifetime=None if left is None else max(0.0, math.floor(float(left))),
                   known_login=login, password_changed_at=row["password_changed_at"])


def change_password(conn: psycopg.Connection, login: str, current: str, new: str,
                    confirmation: str, address: str) -> None:
    """The user's own change of password (argon2id, the administrator's strength rules).

    A wrong current password is a failed login (the brute-force rules apply): a session
    left open cannot be used to guess the password without limit."""
    locked = conn.execute("SELECT ceil(extract(epoch FROM register.gate_locked_until(%s, %s::inet)"
                          " - now()))", [login, address]).fetchone()[0]
    if locked is not None and locked > 0:
        raise UserError("Trop de tentatives de connexion échouées : réessayez dans "
                        f"{int(locked)} secondes.")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT password_hash FROM register.account_status WHERE login = %s",
                          [login]).fetchone()
    if row is None or not verify_password(row["password_hash"], current):
        _bookkeeping(conn, "SELECT register.gate_failure(%s, %s::inet)", [login, address])
        raise UserError("Mot de passe actuel incorrect.")
    if new != confirmation:
        raise UserError("Les deux saisies du nouveau mot de passe diffèrent.")
    check_password(new)
    if new == current:
        raise UserError("Le nouveau mot de passe doit être différent de l'actuel.")
    done = conn.execute("SELECT register.gate_change_password(%s, %s, %s)",
                        [login, row["password_hash"], hash_password(new)]).fetchone()[0]
    if not done:
        raise UserError("Le mot de passe n'a pas pu être changé (compte modifié entre-temps).",
                        hint="Reconnectez-vous, ou contactez l'administrateur du portail (MEL).")


# -- a ready-to-use account for the demo and the tests ----------------------------------
DEMO_ORGANISATION = "Organisation de démonstration"


def set_account(owner_dsn: str, login: str, password: str, *,
                organisation_name: str = DEMO_ORGANISATION,
                email: str | None = None, full_name: str | None = None) -> bool:
    """Create the account (in a signed organisation) or reset its password and enable it.

    For the demo and the tests: a real account is made with ``users add``.
    The demo organisation is recorded as having signed the convention today.
    Returns True when the account was created.
    """
    email = email or f"{login.split('@')[0]}@demo.lillemetropole.invalid"
    with connect(owner_dsn) as conn, conn.transaction():
        try:
            org_id = organisation(conn, organisation_name)["organisation_id"]
        except UserError:
            if organisation_name != DEMO_ORGANISATION:
                raise
            org_id = add_organisation(conn, DEMO_ORGANISATION, "mel", date.today(),
                                      "démonstration (pas de délibération)")
        exists = conn.execute("SELECT 1 FROM register.account WHERE login = %s",
                              [login]).fetchone()
        if not exists:
            add_user(conn, login, full_name=full_name or login, email=email,
                     organisation_name=organisation_name, password=password)
            return True
        # An account made before the register (migration 0200) gets its organisation here.
        conn.execute("""UPDATE register.account
                           SET password_hash = %s, password_changed_at = now(),
                               disabled_at = NULL, disabled_reason = NULL,
                               reactivated_at = now(),
                               organisation_id = coalesce(organisation_id, %s),
                               email = coalesce(email, %s),
                               full_name = coalesce(full_name, %s)
                         WHERE login = %s""",
                     [hash_password(check_password(password)), org_id, email,
                      full_name or login, login])
    return False
