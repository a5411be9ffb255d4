"""The job queue's gauge for ``/metrics`` (registered by ``processes.web.register``)."""
from __future__ import annotations

import logging

from processes.jobs import store
from portail.pools import DATABASE_UNAVAILABLE, jobs_pool

LOGGER = logging.getLogger(__name__)


class JobQueueCollector:
    """Jobs by status (every status, 0 included), read from ``jobs.job`` on the primary
    through the jobs pool at scrape time: a scrape never waits on the gate's logins."""

    def collect(self):
        import psycopg
        from prometheus_client.core import GaugeMetricFamily
        try:
            with jobs_pool().connection(timeout=2) as conn:
                counts = store.status_counts(conn)
        except DATABASE_UNAVAILABLE + (psycopg.Error,) as exc:
            LOGGER.debug("job queue gauge skipped (%s)", type(exc).__name__)
            return
        family = GaugeMetricFamily("portail_jobs", "Tâches (processus OGC) par statut",
                                   labels=["status"])
        for status, count in counts.items():
            family.add_metric([status], count)
        yield family


JOB_QUEUE = JobQueueCollector()
