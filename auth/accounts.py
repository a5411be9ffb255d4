"""Accounts of the register: creation (administrator) and verification (gate)."""
from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from auth.passwords import hash_password, verify_password
from portail.db import connect
from portail.errors import UserError

LOGIN_RE = re.compile(r"^[A-Za-z0-9._@-]{2,128}$")


@dataclass(frozen=True)
class Account:
    login: str


def set_account(owner_dsn: str, login: str, password: str) -> bool:
    """Create the account, or set its password if it exists; True when created."""
    if not LOGIN_RE.match(login):
        raise UserError(f"Identifiant invalide {login!r}",
                        hint="2 à 128 caractères parmi lettres, chiffres, . _ @ -")
    if len(password) < 12:
        raise UserError("Mot de passe trop court (12 caractères au moins).")
    with connect(owner_dsn) as conn, conn.transaction():
        row = conn.execute(
            """INSERT INTO register.account (login, password_hash) VALUES (%s, %s)
               ON CONFLICT (login) DO UPDATE SET password_hash = EXCLUDED.password_hash,
                                                disabled_at = NULL
               RETURNING (xmax = 0) AS created""",
            [login, hash_password(password)]).fetchone()
    return bool(row[0])


def authenticate(conn: psycopg.Connection, login: str, password: str) -> Account | None:
    """The account if the login exists, is enabled and the password matches."""
    row = None
    if login and LOGIN_RE.match(login):
        row = conn.execute(
            "SELECT password_hash, disabled_at FROM register.account WHERE login = %s",
            [login]).fetchone()
    # Same work whether the login exists or not: no account enumeration by timing.
    ok = verify_password(row[0] if row else None, password or "")
    if not ok or row[1] is not None:
        return None
    conn.execute("UPDATE register.account SET last_login_at = now() WHERE login = %s", [login])
    return Account(login)
