"""Publication: secrecy statuses, refreshed diffusion views, an audit, a new data version.

Runs inside the loader's transaction and **fails closed**: the statuses are
computed, the diffusion views refreshed (the candidate publication, visible to
this transaction only), then the auditor attacks the candidate views. Only if
it finds nothing does the transaction record a new data version — the swap
partners see at commit. Otherwise it raises, the transaction rolls back, and
the previous publication stays served, unchanged.

A batch of loads (the demo build, a yearly delivery of many files) can defer
it to one publication at the end: each publication recomputes the secrecy of
every theme, which is the costly part.
"""
from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from portail.errors import UserError

# Inside ``deferred_publication``: the descriptions of the loads waiting to be published.
_pending: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "pending_publication", default=None)


class PublicationRefused(UserError):
    """The audit found a leak in the candidate publication: nothing goes live."""

    def __init__(self, offences: list):
        self.offences = offences
        shown = "\n".join(f"  - {o}" for o in offences[:20])
        more = f"\n  … et {len(offences) - 20} autre(s)" if len(offences) > 20 else ""
        super().__init__(
            f"Publication refusée : l'audit du secret statistique trouve {len(offences)} "
            f"fuite(s) dans les vues candidates :\n{shown}{more}",
            hint="Les données publiées restent celles de la publication précédente ; "
                 "signalez ce cas à l'équipe technique avec le fichier chargé.")


@dataclass
class PublicationTimes:
    """Where the time of the last publication went (seconds per phase)."""
    phases: dict = field(default_factory=dict)


last_times = PublicationTimes()


def refresh_diffusion(conn: psycopg.Connection) -> None:
    views = conn.execute(
        "SELECT matviewname, ispopulated FROM pg_matviews WHERE schemaname = 'diffusion' "
        "ORDER BY matviewname").fetchall()
    for name, populated in views:
        # CONCURRENTLY keeps the view readable during the refresh (needs a unique index).
        keyword = sql.SQL("CONCURRENTLY ") if populated else sql.SQL("")
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(
            keyword, sql.Identifier("diffusion", name)))


def publish(conn: psycopg.Connection, what: str, progress=None) -> int:
    """Statuses, candidate views, audit; the new data version (the current one when
    deferred). Raises ``PublicationRefused`` when the audit finds a leak."""
    pending = _pending.get()
    if pending is not None:
        pending.append(what)
        return conn.execute("SELECT data_version FROM diffusion.data_version").fetchone()[0]
    from portail.secret.audit import audit_connection
    from portail.secret.report import write_report
    from portail.secret.statuses import compute_statuses
    phases: dict[str, float] = {}
    started = time.monotonic()
    summary = compute_statuses(conn, progress=progress)
    phases["secret"] = time.monotonic() - started
    phases.update({f"secret : {k}": v for k, v in summary.phases.items()})
    t0 = time.monotonic()
    refresh_diffusion(conn)
    phases["vues"] = time.monotonic() - t0
    t0 = time.monotonic()
    report = audit_connection(conn, conn, caches=summary.caches)
    phases["audit"] = time.monotonic() - t0
    if not report.ok:
        raise PublicationRefused(report.offences)
    row = conn.execute("INSERT INTO core.publication (what) VALUES (%s) RETURNING data_version",
                       [what[:2000]]).fetchone()
    write_report(conn, row[0])
    phases["total"] = time.monotonic() - started
    last_times.phases = phases
    return row[0]


@contextmanager
def publication_left_to_later():
    """Loads inside the block go to core and are not published: the data team loads a
    yearly delivery file by file, then publishes once (``portail-lls etl publish``).
    Partners keep seeing the previous publication meanwhile."""
    token = _pending.set([])
    try:
        yield
    finally:
        _pending.reset(token)


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
