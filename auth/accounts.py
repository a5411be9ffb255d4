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
from auth.rules import refusal_message
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
        return Outcome("refused", message=refusal_message(refusal, row), known_login=login)
    _bookkeeping(conn, "SELECT register.gate_success(%s, %s::inet)", [login, address])
    left = row["seconds_left"]
    return Outcome("ok", account=Account(login, row["role"], row["organisation"]),
                   lifetime=None if left is None else max(0.0, math.floor(float(left))),
                   known_login=login)


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
