"""Connections for the command-line tools (the web service uses portail.pools)."""
from __future__ import annotations

import psycopg

from portail.errors import UserError
from portail.settings import redact


def connect(dsn: str, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """Open a connection, turning a refusal into a message that says where and why."""
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        # The server's reason (refused, bad password, unknown database) without the DSN.
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise UserError(f"Connexion impossible à {redact(dsn)} : {reason}",
                        hint="Vérifiez DATABASE_URL, ou lancez le cluster local avec "
                             "`portail-lls db start`.") from None
