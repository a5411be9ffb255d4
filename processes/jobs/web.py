"""Adjustments to pygeoapi's answers about jobs (registered by ``auth.gate``).

- A synchronous execution is not stored: pygeoapi still adds
  ``Location: /jobs/{id}`` because the manager is asynchronous-capable; it is
  removed, so that no client follows a link to a job that does not exist.
- A job result is served with ``Content-Disposition: attachment`` and the file
  name recorded with it (``export-<date>-<id>.xlsx``).
"""
from __future__ import annotations

from flask import Blueprint, g

BLUEPRINT = Blueprint("portail_jobs", __name__)


@BLUEPRINT.after_app_request
def _job_headers(response):
    if g.get("job_not_stored"):
        response.headers.pop("Location", None)
    filename = g.get("job_result_filename")
    if filename and response.status_code == 200:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
