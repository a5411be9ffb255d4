"""The WSGI application: pygeoapi mounted behind HTTP basic authentication.

Every route needs a personal account except an explicit list of public ones
(landing page, static assets, health check). A missing or wrong credential
gets ``401`` with ``WWW-Authenticate: Basic realm="…"`` (QGIS sends its
credentials only after that challenge).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import psycopg
from flask import Flask, jsonify, request
from flask_httpauth import HTTPBasicAuth
from psycopg_pool import PoolTimeout

from auth.accounts import authenticate
from portail.settings import Settings, get_settings

LOGGER = logging.getLogger(__name__)

# Routes open without an account: nothing here returns data.
PUBLIC_PATHS = frozenset({"/", "/health"})
PUBLIC_PREFIXES = ("/static/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def prepare_pygeoapi(settings: Settings, regenerate: bool = False) -> None:
    """Point pygeoapi at our config and an up-to-date OpenAPI document.

    pygeoapi reads both from the environment when ``pygeoapi.flask_app`` is
    first imported, so this runs before that import.
    """
    os.environ["PYGEOAPI_CONFIG"] = str(settings.pygeoapi_config)
    os.environ["PYGEOAPI_OPENAPI"] = str(settings.openapi_path)
    os.environ["PORTAIL_URL"] = settings.public_url
    if regenerate or not settings.openapi_path.exists():
        from pygeoapi.openapi import generate_openapi_document
        document = generate_openapi_document(Path(settings.pygeoapi_config), "yaml")
        settings.openapi_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = settings.openapi_path.with_suffix(".tmp")
        tmp.write_text(document, encoding="utf-8")
        os.replace(tmp, settings.openapi_path)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    prepare_pygeoapi(settings)
    import pygeoapi
    from pygeoapi.flask_app import BLUEPRINT as pygeoapi_blueprint

    from providers.pool import gate_pool, service_pool

    app = Flask("portail", static_folder=str(Path(pygeoapi.__file__).parent / "static"),
                static_url_path="/static")
    app.url_map.strict_slashes = False
    app.register_blueprint(pygeoapi_blueprint)
    basic = HTTPBasicAuth(realm=settings.realm)

    @basic.verify_password
    def _verify(login: str, password: str):
        if not login:
            return None  # no credentials: challenge without spending a hash
        with gate_pool().connection() as conn:
            return authenticate(conn, login, password)

    @basic.error_handler
    def _refused(status: int):
        body = {"code": "Unauthorized",
                "description": "Authentification requise : identifiant ou mot de passe "
                               "manquant ou incorrect. Un compte personnel est délivré par "
                               "l'administrateur du portail (MEL)."}
        return jsonify(body), status

    check_login = basic.login_required(lambda: None)

    @app.before_request
    def _gate():
        if is_public(request.path):
            return None
        return check_login()

    @app.after_request
    def _no_shared_cache(response):
        if not is_public(request.path):
            response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def _database_down(exc):
        LOGGER.error("database unavailable: %s", type(exc).__name__)
        response = jsonify({"code": "ServiceUnavailable",
                            "description": "Base de données momentanément indisponible."})
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.get("/health")
    def health():
        try:
            with service_pool().connection(timeout=3) as conn:
                version = conn.execute("SELECT data_version FROM diffusion.data_version"
                                       ).fetchone()[0]
        except (PoolTimeout, psycopg.Error):
            return jsonify({"status": "unavailable", "database": "down"}), 503
        return jsonify({"status": "ok", "database": "ok", "data_version": version})

    return app
