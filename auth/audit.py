"""The audit log of access: who, when, route, collection or process, status, bytes.

Never a password, never a query string. The gate appends one row per request
to an in-memory buffer (a list append: nothing on the request path touches
the database); a thread of the worker writes the buffer with one COPY every
``FLUSH_SECONDS`` or every ``FLUSH_ROWS`` rows, and at the worker's exit. The
buffer is bounded: if the database is down for long, the oldest rows are
dropped and the count is logged. The gate role may INSERT, not read.

Retention: ``RETENTION_MONTHS`` (12); ``portail-lls audit purge`` removes what
is older, and the yearly review runs it.
"""
from __future__ import annotations

import atexit
import csv
import logging
import os
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, TextIO

import psycopg

LOGGER = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
FLUSH_ROWS = 500
MAX_BUFFERED = 50_000
RETENTION_MONTHS = 12

COLUMNS = ("at", "login", "address", "method", "route", "collection", "process", "status",
           "bytes", "duration_ms")


class AuditWriter:
    """Per-process buffer of audit records, written in batches by a background thread."""

    def __init__(self, connection: Callable):
        self._connection = connection   # a context manager factory: pool.connection
        self._buffer: list[tuple] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = None
        self._dropped = 0

    def record(self, row: tuple) -> None:
        """One request: a tuple in ``COLUMNS`` order, ``at`` as a POSIX timestamp."""
        self._ensure_thread()
        with self._lock:
            self._buffer.append(row)
            if len(self._buffer) > MAX_BUFFERED:
                del self._buffer[: len(self._buffer) - MAX_BUFFERED]
                self._dropped += 1
            full = len(self._buffer) >= FLUSH_ROWS
        if full:
            self._wake.set()

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        with self._lock:
            self._buffer.clear()   # rows of the parent process are the parent's to write
        threading.Thread(target=self._run, name="audit-writer", daemon=True).start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what is buffered; returns the number of rows written."""
        with self._lock:
            rows, self._buffer = self._buffer, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            LOGGER.error("audit log: %d row(s) dropped (buffer full, database unreachable?)",
                         dropped)
        if not rows:
            return 0
        try:
            with self._connection() as conn, conn.cursor() as cur:
                with cur.copy("COPY register.audit_log (at, login, address, method, route, "
                              "collection, process, status, bytes, duration_ms) "
                              "FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row((datetime.fromtimestamp(row[0], timezone.utc), *row[1:]))
        except Exception as exc:  # noqa: BLE001 - keep the rows for the next attempt
            LOGGER.warning("audit log: write failed (%s), %d row(s) kept for retry",
                           type(exc).__name__, len(rows))
            with self._lock:
                self._buffer[:0] = rows
                if len(self._buffer) > MAX_BUFFERED:
                    self._dropped += len(self._buffer) - MAX_BUFFERED
                    del self._buffer[: len(self._buffer) - MAX_BUFFERED]
            return 0
        return len(rows)


# -- administrator side (owner connection) -------------------------------------------
def export_csv(conn: psycopg.Connection, out: TextIO, since: date | None = None,
               until: date | None = None, login: str | None = None) -> int:
    """Write the audit log (oldest first) as CSV; returns the number of rows."""
    clauses, params = [], []
    if since:
        clauses.append("at >= %s")
        params.append(since)
    if until:
        clauses.append("at < %s::date + 1")
        params.append(until)
    if login:
        clauses.append("login = %s")
        params.append(login)
    query = ("SELECT at, login, address, method, route, collection, process, status, bytes, "
             "duration_ms FROM register.audit_log")
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["horodatage", "identifiant", "adresse", "methode", "route", "collection",
                     "processus", "statut", "octets", "duree_ms"])
    n = 0
    # Server-side cursor (needs a transaction): a year of log never sits in memory.
    with conn.transaction(), conn.cursor(name="audit_export") as cur:
        cur.execute(query + " ORDER BY at, audit_id", params)
        for row in cur:
            at = row[0].astimezone(timezone.utc).isoformat(timespec="seconds")
            writer.writerow([at, *("" if v is None else v for v in row[1:])])
            n += 1
    return n


def purge(conn: psycopg.Connection, months: int = RETENTION_MONTHS) -> int:
    """Delete audit rows older than the retention period; returns how many."""
    cur = conn.execute("DELETE FROM register.audit_log "
                       "WHERE at < now() - make_interval(months => %s)", [months])
    return cur.rowcount


def write_export(conn: psycopg.Connection, path: Path, **filters) -> int:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        return export_csv(conn, fh, **filters)
