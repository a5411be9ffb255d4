"""Publication: refresh the diffusion views and bump the data version.

Runs inside the loader's transaction, so a failed refresh leaves the previous
publication in place.
"""
from __future__ import annotations

import psycopg
from psycopg import sql


def publish(conn: psycopg.Connection, what: str) -> int:
    """Recompute the secrecy statuses, refresh every materialised view of the
    diffusion schema; return the new data version."""
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
                       [what]).fetchone()
    return row[0]
