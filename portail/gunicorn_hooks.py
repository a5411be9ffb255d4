"""gunicorn server hooks (``--config python:portail.gunicorn_hooks``).

prometheus_client's multiprocess mode keeps one file per worker process in
``PROMETHEUS_MULTIPROC_DIR``; when a worker exits, its live gauges (pool
usage) must stop counting.
"""
from __future__ import annotations

import os


def child_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
