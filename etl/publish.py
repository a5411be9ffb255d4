"""Publication: secrecy statuses, refreshed diffusion views, a new data version.

Runs inside the loader's transaction, so a failed refresh leaves the previous
publication in place. A batch of loads (the demo build, a yearly delivery of
many files) can defer it to one publication at the end: each publication
recomputes the secrecy of every theme, which is the costly part.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager

import psycopg
from psycopg import sql

# Inside ``deferred_publication``: the descriptions of the loads waiting to be published.
_pending: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "pending_publication", default=None)


def publish(conn: psycopg.Connection, what: str) -> int:
    """Recompute the secrecy statuses, refresh every materialised view of the
    diffusion schema; return the new data version (the current one when deferred)."""
    pending = _pending.get()
    if pending is not None:
        pending.append(what)
        return conn.execute("SELECT data_version FROM diffusion.data_version").fetchone()[0]
    from portail.secret.statuses import compute_statuses
    compute_statuses(conn)
    views = conn.execute(
        "SELECT matviewname, ispopulated FROM pg_matviews WHERE schemaname = 'diffusion' "
        "ORDER BY matviewname").fetchall()
    for name, populated in views:
        # CONCURRENTLY keeps the view readable during the refresh (needs a unique index).
        keyword = sql.SQL("CONCURRENTLY ") if populated else sql.SQL("")
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(
            keyword, sql.Identifier("diffusion", name)))
    row = conn.execute("INSERT INTO core.publication (what) VALUES (%s) RETURNING data_version",
                       [what[:2000]]).fetchone()
    return row[0]


@contextmanager
def deferred_publication(owner_dsn: str):
    """Loads inside the block publish once, at its end, if every load succeeded.

    Until then the published views show the previous publication: partners never
    see a half-loaded batch. On an error nothing is published (what was loaded
    stays in core and is published by the next publication).
    """
    from portail.db import connect
    token = _pending.set([])
    try:
        yield
        pending = _pending.get()
    finally:
        _pending.reset(token)
    if pending:
        with connect(owner_dsn) as conn, conn.transaction():
            publish(conn, "; ".join(pending))
