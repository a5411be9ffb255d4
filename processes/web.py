"""What the processes part adds to the app (called by ``portail.app``).

The OGC API Processes routes themselves are pygeoapi's (``processes.export``,
``processes.fiche`` declared in its config; jobs through ``processes.jobs.manager``);
this adds the stable address of the descriptive sheet (``/fiche/<scale>/<code>``)
and the job queue's gauge to ``/metrics``.
"""
from __future__ import annotations


def register(app, metrics) -> None:
    from processes.fiche_web import BLUEPRINT as fiche_pages
    from processes.jobs.metrics import JOB_QUEUE
    app.register_blueprint(fiche_pages)
    metrics.add_collector(JOB_QUEUE)
