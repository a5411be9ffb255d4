"""pygeoapi's process manager for the portal: jobs in PostgreSQL, per user.

Named in pygeoapi's config (``server.manager.name:
processes.jobs.manager.JobManager``). pygeoapi calls it from its request
handlers (``pygeoapi/api/processes.py``), inside the Flask request, after the
gate has set ``flask.g.login``:

- ``execute_process``: without ``Prefer: respond-async``, the process runs in
  the request, as before (nothing is stored). With it, the inputs are checked
  at once (a bad input is a 400 now, not a failed job later) and the job is
  queued as ``accepted``: 201, ``Location: /jobs/{id}``. Workers
  (``portail-lls worker``) run it; nothing runs in the app process.
- ``get_jobs``, ``get_job``, ``get_job_result``, ``delete_job``: only the
  jobs of the logged-in user (all of them for an administrator). Another
  user's job is not found (404), exactly as a job that does not exist.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

from flask import g, has_request_context

from portail import pygeoapi_seam
from pygeoapi.process.base import (JobNotFoundError, JobResultNotFoundError,
                                   ProcessorExecuteError)
from pygeoapi.process.manager.base import BaseManager
from pygeoapi.util import (JobStatus, ProcessExecutionMode, RequestedProcessExecutionMode,
                           RequestedResponse)

from portail.pools import jobs_pool
from portail.settings import get_settings
from processes.jobs import store

LOGGER = logging.getLogger(__name__)


class QueueFullError(ProcessorExecuteError):
    """Too many unfinished jobs for this user: 429."""
    ogc_exception_code = "TooManyJobs"
    http_status_code = HTTPStatus.TOO_MANY_REQUESTS


def iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def ogc_job(row: dict) -> dict:
    """A row of ``jobs.job`` as pygeoapi's job dict (what ``api/processes.py`` reads)."""
    return {
        "type": "process",
        "identifier": str(row["job_id"]),
        "process_id": row["process_id"],
        "status": row["status"],
        "message": row["message"],
        "progress": row["progress"],
        "created": iso(row["created_at"]),
        # pygeoapi sorts the list on "started": a waiting job shows its creation time.
        "started": iso(row["started_at"] or row["created_at"]),
        "finished": iso(row["finished_at"]),
        "updated": iso(row["updated_at"]),
        "mimetype": row["result_mimetype"] or "application/json",
        "location": None,
    }


def current_viewer() -> store.Viewer | None:
    """The logged-in user of this request, or None (no request: nobody)."""
    if not has_request_context():
        return None
    login = g.get("login")
    if not login:
        return None
    account = g.get("account")   # the gate's Account (login, role, organisation)
    role = getattr(account, "role", None)
    if role is None:
        with jobs_pool().connection() as conn:
            row = conn.execute("SELECT role FROM register.account WHERE login = %s",
                               [login]).fetchone()
        role = row[0] if row else None
    return store.Viewer(login, admin=(role == "admin"))


class JobManager(BaseManager):
    """Jobs in ``jobs.job`` (psycopg 3, gate role), visible to their owner only."""

    def __init__(self, manager_def: dict):
        super().__init__(manager_def)
        self.is_async = True
        self.output_dir = None   # results live in PostgreSQL, never in a folder
        self.supports_subscribing = False

    # -- reading -----------------------------------------------------------------------
    def get_jobs(self, status: JobStatus = None, limit: int | None = None,
                 offset: int | None = None) -> dict:
        viewer = current_viewer()
        if viewer is None:
            return {"jobs": [], "numberMatched": 0}
        status_value = getattr(status, "value", status)
        with jobs_pool().connection() as conn:
            rows, total = store.list_jobs(conn, viewer, status_value, limit or 100, offset or 0)
        return {"jobs": [ogc_job(r) for r in rows], "numberMatched": total}

    def _visible(self, job_id: str) -> tuple[store.Viewer, uuid.UUID]:
        viewer = current_viewer()
        key = store.parse_job_id(job_id)
        if viewer is None or key is None:
            raise JobNotFoundError()
        return viewer, key

    def get_job(self, job_id: str) -> dict:
        viewer, key = self._visible(job_id)
        with jobs_pool().connection() as conn:
            row = store.get_job(conn, key, viewer)
        if row is None:
            raise JobNotFoundError()
        return ogc_job(row)

    def get_job_result(self, job_id: str) -> tuple[str, Any]:
        viewer, key = self._visible(job_id)
        with jobs_pool().connection() as conn:
            found = store.get_result(conn, key, viewer)
        if found is None:
            raise JobResultNotFoundError()
        mimetype, data, filename = found
        pygeoapi_seam.serve_result_as(filename)   # Content-Disposition: attachment
        return mimetype, data

    def delete_job(self, job_id: str) -> bool:
        viewer, key = self._visible(job_id)
        with jobs_pool().connection() as conn:
            if not store.delete(conn, key, viewer):
                raise JobNotFoundError()
        return True

    # pygeoapi's synchronous handler records progress through these: a synchronous
    # execution is not stored, so there is nothing to record.
    def add_job(self, job_metadata: dict) -> str:
        return job_metadata["identifier"]

    def update_job(self, job_id: str, update_dict: dict) -> bool:
        return True

    # -- execution ------------------------------------------------------------------------
    def execute_process(self, process_id: str, data_dict: dict, execution_mode=None,
                        requested_outputs: dict | None = None, subscriber=None,
                        requested_response: str = RequestedResponse.raw.value):
        processor = self.get_processor(process_id)
        wants_async = execution_mode == RequestedProcessExecutionMode.respond_async
        can_async = ProcessExecutionMode.async_execute.value in \
            processor.metadata.get("jobControlOptions", [])
        if not (wants_async and can_async):
            job_id = str(uuid.uuid4())
            processor.set_job_id(job_id)
            headers = None
            if execution_mode is not None:
                headers = {"Preference-Applied": RequestedProcessExecutionMode.wait.value}
            mimetype, outputs, status = pygeoapi_seam.run_sync(
                self, processor, job_id, data_dict, requested_outputs, requested_response)
            pygeoapi_seam.job_not_stored()   # pygeoapi's Location would name no job
            return job_id, mimetype, outputs, status, headers
        return self._submit(processor, process_id, data_dict)

    def _submit(self, processor, process_id: str, data_dict: dict):
        viewer = current_viewer()
        if viewer is None:   # the gate lets nobody in without a login; be safe anyway
            raise ProcessorExecuteError(user_msg="authentification requise")
        check = getattr(processor, "check_inputs", None)
        if check is not None:
            check(data_dict)   # ProcessorExecuteError: 400 with the reason, nothing queued
        settings = get_settings()
        job_id = uuid.uuid4()
        try:
            with jobs_pool().connection() as conn:
                created = store.submit(conn, job_id, viewer.login, process_id, data_dict,
                                       settings.jobs_max_queued_per_user)
        except store.QueueFull:
            raise QueueFullError(user_msg=(
                f"vous avez déjà {settings.jobs_max_queued_per_user} travaux en attente ou en "
                "cours : attendez qu'ils se terminent ou supprimez-en")) from None
        LOGGER.info("job %s queued: process=%s owner=%s", job_id, process_id, viewer.login)
        url = f"{settings.public_url}/jobs/{job_id}"
        status_info = {
            "type": "process", "processID": process_id, "jobID": str(job_id),
            "status": JobStatus.accepted.value, "message": "en attente d'un worker",
            "progress": 0, "created": iso(created),
            "links": [{"href": url, "rel": "monitor", "type": "application/json",
                       "title": "État du travail"},
                      {"href": f"{url}/results", "rel":
                       "http://www.opengis.net/def/rel/ogc/1.0/results",
                       "title": "Résultat (quand le travail est terminé)"}],
        }
        headers = {"Preference-Applied": RequestedProcessExecutionMode.respond_async.value}
        return str(job_id), "application/json", status_info, JobStatus.accepted, headers

    def __repr__(self):
        return f"<JobManager> {self.name}"
