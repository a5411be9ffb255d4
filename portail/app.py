"""The composition root: the one place that builds the WSGI application from its parts.

gunicorn runs ``portail.app:create_app()``. The parts, in the order their hooks run:

1. observability (request id, access log, metrics, ``/metrics``, ``/ready``,
   trusted proxies) — ``portail.observability``;
2. the gate (HTTP basic authentication or the browser's session cookie against the
   register, audit log) — ``auth.gate``; its check runs before any other request
   hook, so an anonymous request gets its 401 before any parameter is looked at;
   the login form and « Mon compte » — ``auth.web``; the administration console
   (role admin) — ``auth.admin``;
3. pygeoapi with the portal's patches (OGC API Features and Processes) —
   ``portail.pygeoapi_seam``;
4. the data dictionary pages, the map, the home page and the training pages (``/``
   for browsers; pygeoapi's landing page for programs), the descriptive sheets, the
   job queue's metrics, the layers' styles and the QGIS project — each part's
   ``register``;
5. what is common to every answer: ``Cache-Control: private, no-store`` on what
   the gate protects, a 503 with ``Retry-After`` when the database cannot answer,
   ``/health``.

Nothing below this module imports it (``tests/test_architecture.py`` runs the
import contracts of ``pyproject.toml``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from flask import Flask, jsonify, request

from diffusion.errors import Unavailable
from diffusion.store import data_version
from portail.pools import DATABASE_UNAVAILABLE, UNAVAILABLE_MESSAGE, gate_pool, service_pool
from portail.settings import Settings, get_settings

LOGGER = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """The production app: the gate is always on (there is no setting to turn it off)."""
    return build_app(settings or get_settings(), gate=True)


def prepare_pygeoapi(settings: Settings, regenerate: bool = False) -> None:
    """pygeoapi's config, templates and secured OpenAPI document, before its import."""
    from auth.gate import secure_openapi
    from carte import PYGEOAPI_TEMPLATES
    from portail import pygeoapi_seam
    from styles.web import openapi_paths
    pygeoapi_seam.prepare(settings.pygeoapi_config, settings.openapi_path, settings.public_url,
                          PYGEOAPI_TEMPLATES,
                          lambda doc: secure_openapi(openapi_paths(doc), settings.realm),
                          regenerate=regenerate)


def build_app(settings: Settings, gate: bool) -> Flask:
    """The app; ``gate=False`` only for the benchmark of what the gate costs."""
    prepare_pygeoapi(settings)
    import pygeoapi

    import auth.admin
    import auth.gate
    import auth.web
    import carte.accueil
    import carte.web
    import data_dictionary.web
    import processes.web
    import styles.web
    from portail import observability, pygeoapi_seam

    app = Flask("portail", static_folder=str(Path(pygeoapi.__file__).parent / "static"),
                static_url_path="/static")
    app.url_map.strict_slashes = False
    # A body larger than this is refused (413) before anything reads it (the proxy has
    # the same bound: client_max_body_size).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False   # messages in French, readable with curl

    meter = observability.install(app, settings)
    if gate:
        auth.gate.install(app, settings, gate_pool, on_refusal=meter.auth_failure)
        auth.web.register(app, gate_pool, settings.public_url)
        auth.admin.register(app, settings.owner_dsn, settings.public_url)
    pygeoapi_seam.install(app)
    data_dictionary.web.register(app)
    carte.web.register(app)
    carte.accueil.register(app, styles.web.project_facts())
    processes.web.register(app, meter)
    styles.web.register(app, settings.public_url)

    @app.after_request
    def _no_shared_cache(response):
        if not auth.gate.is_public(request.path):
            response.headers["Cache-Control"] = "private, no-store"
        return response

    for kind in (*DATABASE_UNAVAILABLE, Unavailable):
        app.register_error_handler(kind, _database_unavailable)

    @app.get("/health")
    def health():
        try:
            with service_pool().connection(timeout=3) as conn:
                version = data_version(conn)
        except DATABASE_UNAVAILABLE + (psycopg.Error,):
            return jsonify({"status": "unavailable", "database": "down"}), 503
        return jsonify({"status": "ok", "database": "ok", "data_version": version})

    return app


def _database_unavailable(exc):
    """Any part that meets a database that cannot answer: 503 and ``Retry-After``."""
    LOGGER.error("database unavailable: %s", type(exc).__name__)
    response = jsonify({"code": "ServiceUnavailable",
                        "description": UNAVAILABLE_MESSAGE[0].upper() + UNAVAILABLE_MESSAGE[1:]
                        + "."})
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response
