"""The job queue in PostgreSQL (``jobs.job``, migration 0500): every SQL statement on it.

Each function takes a connection of the gate role (``portail.pools.jobs_pool``,
autocommit) and runs one short transaction. Ownership is part of every query a
user can trigger: ``Viewer`` is the logged-in user (or an administrator, who
sees every job); a job of someone else is simply not found.

Workers claim with ``FOR UPDATE SKIP LOCKED``: a claim never waits for a row
another transaction holds (another claim, a deletion, the reaper). Claims
also take a short transaction-level advisory lock, so that the caps (running
jobs per user and overall) hold exactly however many workers run.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

CHANNEL = "portail_jobs"          # NOTIFY on submission and on each end: workers wake up
CLAIM_LOCK_KEY = 7_531_500        # pg_advisory_xact_lock: one claim at a time
STATUSES = ("accepted", "running", "successful", "failed", "dismissed")

# Columns a listing returns (never the result bytes).
_SUMMARY = sql.SQL(", ").join(sql.Identifier(c) for c in (
    "job_id", "owner", "process_id", "status", "progress", "message", "attempts",
    "created_at", "started_at", "finished_at", "updated_at", "expires_at",
    "result_mimetype", "result_filename", "result_bytes"))


class QueueFull(Exception):
    """The user already has as many jobs waiting or running as allowed."""


@dataclass(frozen=True)
class Viewer:
    login: str
    admin: bool = False

    def clause(self) -> sql.Composable:
        """The rows this viewer may see (its parameters: ``params()``)."""
        return sql.SQL("TRUE") if self.admin else sql.SQL("owner = %s")

    def params(self) -> list:
        return [] if self.admin else [self.login]


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    owner: str
    process_id: str
    inputs: dict
    attempts: int
    run_token: uuid.UUID


def parse_job_id(text: str) -> uuid.UUID | None:
    """A job id from a URL; anything that is not a UUID is no job (404, not 500)."""
    try:
        return uuid.UUID(str(text))
    except (ValueError, TypeError, AttributeError):
        return None


# -- the user's side (app) -------------------------------------------------------------------
def submit(conn: psycopg.Connection, job_id: uuid.UUID, owner: str, process_id: str,
           inputs: dict, max_queued: int) -> datetime:
    """Queue a job as ``accepted``; refuse past ``max_queued`` unfinished jobs of the owner."""
    with conn.transaction():
        # Serialise one owner's submissions, so that the cap holds.
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CLAIM_LOCK_KEY, owner])
        pending = conn.execute(
            "SELECT count(*) FROM jobs.job WHERE owner = %s AND status IN ('accepted', 'running')",
            [owner]).fetchone()[0]
        if pending >= max_queued:
            raise QueueFull(pending)
        created = conn.execute(
            """INSERT INTO jobs.job (job_id, owner, process_id, inputs, message)
               VALUES (%s, %s, %s, %s, 'en attente d''un worker') RETURNING created_at""",
            [job_id, owner, process_id, psycopg.types.json.Jsonb(inputs)]).fetchone()[0]
        conn.execute("SELECT pg_notify(%s, 'submitted')", [CHANNEL])
    return created


def list_jobs(conn: psycopg.Connection, viewer: Viewer, status: str | None = None,
              limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """The viewer's jobs, newest first, and how many there are."""
    where = sql.SQL("{} AND status <> 'dismissed'").format(viewer.clause())
    params: list = viewer.params()
    if status is not None:
        where = sql.SQL("{} AND status = %s").format(where)
        params.append(status)
    limit, offset = max(0, min(int(limit), 10_000)), max(0, min(int(offset), 2**62))  # bigint
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute(sql.SQL("SELECT count(*) AS n FROM jobs.job WHERE {}").format(where),
                            params).fetchone()["n"]
        rows = cur.execute(
            sql.SQL("SELECT {} FROM jobs.job WHERE {} ORDER BY created_at DESC, job_id "
                    "LIMIT %s OFFSET %s").format(_SUMMARY, where),
            [*params, limit, offset]).fetchall()
    return rows, total


def get_job(conn: psycopg.Connection, job_id: uuid.UUID, viewer: Viewer) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL("SELECT {} FROM jobs.job WHERE job_id = %s AND status <> 'dismissed' "
                    "AND {}").format(_SUMMARY, viewer.clause()), [job_id, *viewer.params()]).fetchone()


def get_result(conn: psycopg.Connection, job_id: uuid.UUID,
               viewer: Viewer) -> tuple[str, bytes, str] | None:
    """(mimetype, bytes, file name) of a successful job, or None."""
    row = conn.execute(
        sql.SQL("SELECT result_mimetype, result, result_filename FROM jobs.job "
                "WHERE job_id = %s AND status = 'successful' AND result IS NOT NULL "
                "AND {}").format(viewer.clause()), [job_id, *viewer.params()]).fetchone()
    return (row[0], bytes(row[1]), row[2]) if row else None


def delete(conn: psycopg.Connection, job_id: uuid.UUID, viewer: Viewer) -> bool:
    """Remove a job and its result. A running job's worker notices at its next
    heartbeat and cannot store anything (its run token no longer matches a row)."""
    with conn.transaction():
        gone = conn.execute(
            sql.SQL("DELETE FROM jobs.job WHERE job_id = %s AND {}").format(viewer.clause()),
            [job_id, *viewer.params()]).rowcount
        if gone:
            conn.execute("SELECT pg_notify(%s, 'deleted')", [CHANNEL])
    return bool(gone)


# -- the worker's side --------------------------------------------------------------------------
_CLAIM = """
WITH running AS (SELECT owner FROM jobs.job WHERE status = 'running'),
candidate AS (
    SELECT j.job_id FROM jobs.job j
    WHERE j.status = 'accepted'
      AND (SELECT count(*) FROM running) < %(max_running)s
      AND (SELECT count(*) FROM running r WHERE r.owner = j.owner) < %(max_per_user)s
    ORDER BY j.created_at, j.job_id
    LIMIT 1
    FOR UPDATE OF j SKIP LOCKED)
UPDATE jobs.job j
SET status = 'running', attempts = j.attempts + 1, worker = %(worker)s,
    run_token = gen_random_uuid(), lease_until = now() + make_interval(secs => %(lease)s),
    started_at = now(), updated_at = now(), progress = 0, message = 'en cours'
FROM candidate c WHERE j.job_id = c.job_id
RETURNING j.job_id, j.owner, j.process_id, j.inputs, j.attempts, j.run_token"""


def claim(conn: psycopg.Connection, worker: str, lease_seconds: float, max_running: int,
          max_per_user: int) -> Claim | None:
    """Take the oldest waiting job allowed by the caps, or None."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK_KEY])
        row = conn.execute(_CLAIM, {"worker": worker, "lease": lease_seconds,
                                    "max_running": max_running,
                                    "max_per_user": max_per_user}).fetchone()
    return Claim(*row) if row else None


def heartbeat(conn: psycopg.Connection, claim_: Claim, lease_seconds: float,
              progress: int | None = None, message: str | None = None) -> bool:
    """Extend the lease (and record progress); False if the run is no longer ours."""
    return bool(conn.execute(
        """UPDATE jobs.job SET lease_until = now() + make_interval(secs => %s),
                  progress = coalesce(%s, progress), message = coalesce(%s, message),
                  updated_at = now()
           WHERE job_id = %s AND run_token = %s AND status = 'running'""",
        [lease_seconds, progress, message, claim_.job_id, claim_.run_token]).rowcount)


def succeed(conn: psycopg.Connection, claim_: Claim, mimetype: str, data: bytes,
            filename: str, result_hours: int) -> bool:
    """Store the result and mark the job successful, in one statement (all or nothing)."""
    with conn.transaction():
        done = conn.execute(
            """UPDATE jobs.job SET status = 'successful', progress = 100,
                      message = 'terminé', result = %s, result_mimetype = %s,
                      result_filename = %s, result_bytes = %s, finished_at = now(),
                      updated_at = now(), lease_until = NULL,
                      expires_at = now() + make_interval(hours => %s)
               WHERE job_id = %s AND run_token = %s AND status = 'running'""",
            [data, mimetype, filename, len(data), result_hours, claim_.job_id,
             claim_.run_token]).rowcount
        conn.execute("SELECT pg_notify(%s, 'finished')", [CHANNEL])
    return bool(done)


def fail(conn: psycopg.Connection, claim_: Claim, reason: str, result_hours: int) -> bool:
    """Mark the job failed with a reason for its owner (French, no data value)."""
    with conn.transaction():
        done = conn.execute(
            """UPDATE jobs.job SET status = 'failed', message = %s, finished_at = now(),
                      updated_at = now(), lease_until = NULL, result = NULL,
                      expires_at = now() + make_interval(hours => %s)
               WHERE job_id = %s AND run_token = %s AND status = 'running'""",
            [reason, result_hours, claim_.job_id, claim_.run_token]).rowcount
        conn.execute("SELECT pg_notify(%s, 'finished')", [CHANNEL])
    return bool(done)


def release(conn: psycopg.Connection, claim_: Claim, message: str) -> bool:
    """Put a running job back in the queue (a transient failure: database restart)."""
    with conn.transaction():
        done = conn.execute(
            """UPDATE jobs.job SET status = 'accepted', message = %s, progress = 0,
                      lease_until = NULL, run_token = NULL, updated_at = now()
               WHERE job_id = %s AND run_token = %s AND status = 'running'""",
            [message, claim_.job_id, claim_.run_token]).rowcount
        conn.execute("SELECT pg_notify(%s, 'requeued')", [CHANNEL])
    return bool(done)


REQUEUED_MESSAGE = ("en attente : le traitement précédent a été interrompu (arrêt d'un worker "
                    "ou de la base), il est relancé")
LOST_MESSAGE = ("échec : le traitement a été interrompu {attempts} fois (arrêt d'un worker ou "
                "de la base de données) ; relancez l'export")


def reap(conn: psycopg.Connection, max_attempts: int, result_hours: int) -> dict[str, int]:
    """Running jobs whose lease has expired: back to the queue, or failed after
    ``max_attempts`` runs. Returns how many of each."""
    with conn.transaction():
        rows = conn.execute(
            """UPDATE jobs.job j
               SET status = CASE WHEN j.attempts < %(max)s THEN 'accepted' ELSE 'failed' END,
                   message = CASE WHEN j.attempts < %(max)s THEN %(requeued)s
                                  ELSE replace(%(lost)s, '{attempts}', j.attempts::text) END,
                   finished_at = CASE WHEN j.attempts < %(max)s THEN NULL ELSE now() END,
                   expires_at = CASE WHEN j.attempts < %(max)s THEN NULL
                                     ELSE now() + make_interval(hours => %(hours)s) END,
                   progress = 0, lease_until = NULL, run_token = NULL, updated_at = now()
               WHERE j.job_id IN (SELECT job_id FROM jobs.job
                                  WHERE status = 'running' AND lease_until < now()
                                  FOR UPDATE SKIP LOCKED)
               RETURNING j.status""",
            {"max": max_attempts, "requeued": REQUEUED_MESSAGE, "lost": LOST_MESSAGE,
             "hours": result_hours}).fetchall()
        if rows:
            conn.execute("SELECT pg_notify(%s, 'requeued')", [CHANNEL])
    counts = {"accepted": 0, "failed": 0}
    for (status,) in rows:
        counts[status] += 1
    return counts


def purge(conn: psycopg.Connection) -> int:
    """Delete finished jobs (and their results) past their retention."""
    return conn.execute("DELETE FROM jobs.job WHERE expires_at < now()").rowcount


def status_counts(conn: psycopg.Connection) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(conn.execute("SELECT status, count(*) FROM jobs.job GROUP BY status").fetchall())
    return counts
