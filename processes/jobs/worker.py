"""The job worker (``portail-lls worker``): runs queued jobs, one at a time per process.

Run as many as needed, on any machine that reaches the primary: each claims
the oldest waiting job the caps allow (``store.claim``, ``SKIP LOCKED``),
runs the process, and stores the result and ``successful`` in one statement.
While a job runs, a thread extends its lease (``JOBS_LEASE_SECONDS``) and
records the progress; a worker killed mid-job stops heartbeating, and the next
worker to look (every worker reaps expired leases) puts the job back in the
queue, or marks it failed once it has been tried ``JOBS_MAX_ATTEMPTS`` times.
A worker loses nothing when PostgreSQL restarts: it waits for the database and
carries on; a job it was running when the connection dropped is reaped and
retried.

Workers wake up on ``NOTIFY portail_jobs`` (sent on submission and at each
job's end), or every ``JOBS_POLL_SECONDS`` at the latest. Finished jobs and
their results are purged after ``JOBS_RESULT_HOURS``.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout
from pygeoapi.plugin import load_plugin
from pygeoapi.process.base import ProcessorExecuteError

from portail.pygeoapi_config import load_config
from portail.settings import Settings
from processes.jobs import store
from portail.pools import DATABASE_UNAVAILABLE, jobs_pool

LOGGER = logging.getLogger("portail.worker")

GENERIC_FAILURE = "échec : le traitement a échoué côté serveur (voir le journal du worker)"
PURGE_EVERY_SECONDS = 600
WAIT_SLICE_SECONDS = 0.25
EXTENSIONS = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
              "text/csv": "csv", "application/json": "json",
              "application/geopackage+sqlite3": "gpkg", "text/html": "html",
              "application/pdf": "pdf"}


class JobCancelled(ProcessorExecuteError):
    """The job was deleted by its owner, or its lease lost, while it ran (a
    ProcessorExecuteError, so that a process lets it through untouched)."""


def result_filename(process_id: str, job_id, mimetype: str, today: date) -> str:
    """A safe file name: only the process id, the date and the job id."""
    base_type = mimetype.split(";")[0].strip()
    extension = EXTENSIONS.get(base_type, "bin")
    safe_process = "".join(c for c in process_id if c.isalnum() or c in "-_") or "job"
    return f"{safe_process}-{today:%Y%m%d}-{str(job_id)[:8]}.{extension}"


class Worker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        config = load_config(settings.pygeoapi_config)
        self.processes = {pid: conf["processor"] for pid, conf in
                          (config.get("resources") or {}).items()
                          if conf.get("type") == "process"}
        self._last_purge = 0.0
        self.runs = 0

    # -- one job ---------------------------------------------------------------------------
    def run_one(self) -> bool:
        """Reap lost jobs, claim one and run it; False when none was waiting."""
        s = self.settings
        with jobs_pool().connection() as conn:
            reaped = store.reap(conn, s.jobs_max_attempts, s.jobs_result_hours)
            if any(reaped.values()):
                LOGGER.warning("lost jobs (expired lease): %d requeued, %d failed",
                               reaped["accepted"], reaped["failed"])
            if time.monotonic() - self._last_purge > PURGE_EVERY_SECONDS:
                purged = store.purge(conn)
                self._last_purge = time.monotonic()
                if purged:
                    LOGGER.info("purged %d finished jobs past retention", purged)
            claim = store.claim(conn, self.name, s.jobs_lease_seconds, s.jobs_max_running,
                                s.jobs_max_per_user)
        if claim is None:
            return False
        self.runs += 1
        LOGGER.info("job %s: run %d of process %s for %s", claim.job_id, claim.attempts,
                    claim.process_id, claim.owner)
        self._run(claim)
        return True

    def _run(self, claim: store.Claim) -> None:
        s = self.settings
        state = {"progress": None, "message": None, "lost": False}
        done = threading.Event()

        def beat():
            with jobs_pool().connection() as conn:
                if not store.heartbeat(conn, claim, s.jobs_lease_seconds, state["progress"],
                                       state["message"]):
                    state["lost"] = True

        def beat_loop():
            while not done.wait(max(s.jobs_lease_seconds / 3, 0.2)):
                try:
                    beat()
                except (psycopg.Error, PoolTimeout):
                    LOGGER.warning("job %s: heartbeat failed (database unavailable)",
                                   claim.job_id)

        def on_progress(percent: int, message: str) -> None:
            state["progress"], state["message"] = max(0, min(99, int(percent))), message
            try:
                beat()
            except (psycopg.Error, PoolTimeout):
                pass   # the heartbeat thread keeps trying
            if state["lost"]:
                raise JobCancelled()

        heart = threading.Thread(target=beat_loop, name="heartbeat", daemon=True)
        heart.start()
        try:
            conf = self.processes.get(claim.process_id)
            if conf is None:
                raise ProcessorExecuteError(user_msg=f"processus inconnu : {claim.process_id}")
            processor = load_plugin("process", conf)
            processor.set_job_id(str(claim.job_id))
            processor.on_progress = on_progress
            mimetype, data = processor.execute(claim.inputs)
            if isinstance(data, str):
                data = data.encode("utf-8")
            outcome = ("ok", mimetype, bytes(data))
        except JobCancelled:
            outcome = ("cancelled",)
        except ProcessorExecuteError as exc:
            if getattr(exc, "retryable", False) and claim.attempts < s.jobs_max_attempts:
                outcome = ("retry", "en attente : base de données indisponible pendant le "
                                    "traitement, il est relancé")
            else:
                outcome = ("failed", f"échec : {exc.message}")
        except Exception:  # noqa: BLE001 - the owner reads a neutral reason; the log has it all
            LOGGER.exception("job %s failed", claim.job_id)
            outcome = ("failed", GENERIC_FAILURE)
        finally:
            done.set()
            heart.join()
        self._finish(claim, outcome)

    def _finish(self, claim: store.Claim, outcome: tuple) -> None:
        s = self.settings
        if outcome[0] == "cancelled":
            LOGGER.info("job %s: deleted or lost while running, nothing stored", claim.job_id)
            return
        for attempt in range(30):   # the database may be restarting: wait for it
            try:
                with jobs_pool().connection() as conn:
                    if outcome[0] == "retry":
                        stored = store.release(conn, claim, outcome[1])
                    elif outcome[0] == "ok":
                        name = result_filename(claim.process_id, claim.job_id, outcome[1],
                                               date.today())
                        stored = store.succeed(conn, claim, outcome[1], outcome[2], name,
                                               s.jobs_result_hours)
                    else:
                        stored = store.fail(conn, claim, outcome[1], s.jobs_result_hours)
                break
            except DATABASE_UNAVAILABLE:
                LOGGER.warning("job %s: database unavailable, result kept in memory "
                               "(try %d)", claim.job_id, attempt + 1)
                time.sleep(1)
        else:
            LOGGER.error("job %s: could not record the end; its lease will expire and "
                         "it will be retried", claim.job_id)
            return
        if stored:
            LOGGER.info("job %s: %s", claim.job_id,
                        {"ok": "successful", "retry": "back in the queue"}.get(outcome[0],
                                                                              "failed"))
        else:
            LOGGER.warning("job %s: no longer ours (deleted, or lease expired), "
                           "result dropped", claim.job_id)

    # -- the loop ----------------------------------------------------------------------------
    def run_forever(self) -> None:
        LOGGER.info("worker %s started", self.name)
        listener: psycopg.Connection | None = None
        while not self.stopping.is_set():
            try:
                if listener is None or listener.closed:
                    listener = psycopg.connect(self.settings.gate_dsn(), autocommit=True)
                    listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(store.CHANNEL)))
                if self.run_one():
                    continue
                self._wait(listener)
            except DATABASE_UNAVAILABLE as exc:
                LOGGER.warning("database unavailable (%s), waiting", type(exc).__name__)
                if listener is not None:
                    listener.close()
                listener = None
                self.stopping.wait(min(self.settings.jobs_poll_seconds, 2.0))
        if listener is not None:
            listener.close()
        LOGGER.info("worker %s stopped", self.name)

    def _wait(self, listener: psycopg.Connection) -> None:
        """Nothing to do: sleep until a notification or the poll delay, in short slices
        so that SIGTERM ends an idle worker at once (psycopg's wait does not return on
        a signal)."""
        deadline = time.monotonic() + self.settings.jobs_poll_seconds
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for _ in listener.notifies(timeout=min(WAIT_SLICE_SECONDS, left), stop_after=1):
                return

    def stop(self, *_args) -> None:
        """SIGTERM: finish the current job, then exit."""
        self.stopping.set()


def serve(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = Worker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run_forever()


# -- a background worker next to the demo server (portail.server) ---------------------------
def _read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return None if _gone(pid) else pid


def _gone(pid: int) -> bool:
    try:   # our own child (tests start the demo server in-process): reap it
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def background_pid(settings: Settings) -> int | None:
    return _read_pid(settings.worker_pidfile)


def start_background(settings: Settings, env: dict) -> int:
    """Start one worker in the background (pidfile, log in the state folder)."""
    stop_background(settings)
    log = open(settings.worker_logfile, "ab")
    process = subprocess.Popen([sys.executable, "-m", "portail.cli", "worker"], env=env,
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                               start_new_session=True,
                               cwd=str(Path(__file__).resolve().parents[2]))
    settings.worker_pidfile.write_text(str(process.pid))
    return process.pid


def stop_background(settings: Settings, grace_seconds: float = 10.0, wait: bool = True) -> bool:
    """Stop the background worker: SIGTERM (it finishes its job), SIGKILL after the grace.

    ``wait=False`` (a restart): signal it and return; it ends by itself, next to its
    successor (several workers are always allowed)."""
    pid = background_pid(settings)
    if pid is None:
        settings.worker_pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    if not wait:
        settings.worker_pidfile.unlink(missing_ok=True)
        return True
    deadline = time.monotonic() + grace_seconds
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)   # its job's lease expires: it is retried
            break
        time.sleep(0.1)
    settings.worker_pidfile.unlink(missing_ok=True)
    return True
