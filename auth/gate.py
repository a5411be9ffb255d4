"""The WSGI application: pygeoapi mounted behind HTTP basic authentication.

Every route needs a personal account except an explicit list of public ones
(landing page, static assets, health check). Answers:

- no, unknown or wrong credentials: ``401`` with ``WWW-Authenticate: Basic
  realm="…"`` (QGIS sends its credentials only after that challenge), the same
  body whether the login exists or not;
- too many failures for this login or from this address: ``429`` with
  ``Retry-After`` (the same for existing and unknown logins);
- right password, but the convention refuses the account (disabled, unused
  for a year, password older than a year, end of a third party's assignment,
  expiry): ``401`` too, but its body says why and whom to contact; only
  someone who knows the password learns anything about the account.

A verified credential is cached in the worker (``auth.cache``), so that an
authenticated request costs a keyed hash and a dict lookup; each request is
appended to the audit log buffer (``auth.audit``), written in batches.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import psycopg
import yaml
from flask import Flask, g, jsonify, request
from flask_httpauth import HTTPBasicAuth
from psycopg_pool import PoolTimeout

from auth.accounts import authenticate
from auth.audit import AuditWriter
from auth.cache import CredentialCache, RegisterListener
from portail.settings import Settings, get_settings

LOGGER = logging.getLogger(__name__)

# Routes open without an account: nothing here returns data.
# /ready and /metrics: see portail.observability (/metrics is restricted by network).
PUBLIC_PATHS = frozenset({"/", "/health", "/ready", "/metrics"})
PUBLIC_PREFIXES = ("/static/",)

SECURITY_SCHEME = "basicAuth"
_SCHEME_MARK = "x-portail-security"   # marks a document already post-processed


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


# -- OpenAPI ---------------------------------------------------------------------------
def secure_openapi(document: dict, realm: str) -> dict:
    """Declare HTTP basic authentication on every operation except the public routes."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http", "scheme": "basic",
        "description": f"Compte personnel délivré par l'administrateur du portail (realm "
                       f"« {realm} »). Sans compte valide : 401.",
    }
    document["security"] = [{SECURITY_SCHEME: []}]
    unauthorized = {"description": "Authentification requise (identifiant ou mot de passe "
                                   "manquant ou incorrect)."}
    for path, item in (document.get("paths") or {}).items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "options", "head"):
                continue
            if is_public(path):
                operation["security"] = []
            else:
                operation.setdefault("responses", {}).setdefault("401", unauthorized)
    document[_SCHEME_MARK] = True
    return document


def prepare_pygeoapi(settings: Settings, regenerate: bool = False) -> None:
    """Point pygeoapi at our config and an up-to-date, secured OpenAPI document.

    pygeoapi reads both from the environment when ``pygeoapi.flask_app`` is
    first imported, so this runs before that import.
    """
    os.environ["PYGEOAPI_CONFIG"] = str(settings.pygeoapi_config)
    os.environ["PYGEOAPI_OPENAPI"] = str(settings.openapi_path)
    os.environ["PORTAIL_URL"] = settings.public_url
    from carte import PYGEOAPI_TEMPLATES   # offline HTML templates (no CDN)
    os.environ["PORTAIL_TEMPLATES"] = str(PYGEOAPI_TEMPLATES)
    if not settings.openapi_path.exists():
        regenerate = True
    elif not regenerate:
        regenerate = _SCHEME_MARK not in settings.openapi_path.read_text(encoding="utf-8")
    if regenerate:
        from pygeoapi.openapi import generate_openapi_document
        generated = generate_openapi_document(Path(settings.pygeoapi_config), "yaml")
        document = secure_openapi(yaml.safe_load(generated), settings.realm)
        settings.openapi_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = settings.openapi_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
        os.replace(tmp, settings.openapi_path)


# -- the app ---------------------------------------------------------------------------------
def create_app(settings: Settings | None = None) -> Flask:
    """The production app: the gate is always on (there is no setting to turn it off)."""
    return _build_app(settings or get_settings(), gate=True)


def _build_app(settings: Settings, gate: bool) -> Flask:
    prepare_pygeoapi(settings)
    import pygeoapi
    from pygeoapi.flask_app import BLUEPRINT as pygeoapi_blueprint

    from providers.pool import gate_pool, service_pool

    app = Flask("portail", static_folder=str(Path(pygeoapi.__file__).parent / "static"),
                static_url_path="/static")
    app.url_map.strict_slashes = False
    # A body larger than this is refused (413) before anything reads it (the proxy has
    # the same bound: client_max_body_size).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False   # messages in French, readable with curl
    # Request id, access log, metrics, /ready, trusted proxies first; then the gate, whose
    # check runs before any blueprint's request hook (an anonymous request gets its 401
    # before any parameter is looked at).
    from portail import observability
    observability.install(app, settings)
    if gate:
        _install_gate(app, settings, gate_pool)
    app.register_blueprint(pygeoapi_blueprint)
    # Corrections to pygeoapi's answers (links, queryable titles, conformance) and
    # the data dictionary pages: behind the gate like every other route.
    from data_dictionary.web import BLUEPRINT as dictionary_pages
    from providers.web import BLUEPRINT as ogc_adjustments
    app.register_blueprint(ogc_adjustments)
    app.register_blueprint(dictionary_pages)
    from carte.web import BLUEPRINT as map_page   # /carte (the map page)
    app.register_blueprint(map_page)
    from processes.jobs.web import BLUEPRINT as job_headers
    app.register_blueprint(job_headers)
    from processes.fiche_web import BLUEPRINT as fiche_pages   # /fiche/<scale>/<code>
    app.register_blueprint(fiche_pages)

    @app.after_request
    def _no_shared_cache(response):
        if not is_public(request.path):
            response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(psycopg.errors.ReadOnlySqlTransaction)   # a write on a read-only base
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


def _install_gate(app: Flask, settings: Settings, gate_pool) -> None:
    cache = CredentialCache()
    cache.enabled = False   # until this worker's listener is connected
    listener = RegisterListener(cache, settings.gate_dsn)
    audit = AuditWriter(lambda: gate_pool().connection())
    app.extensions["portail_gate"] = {"cache": cache, "listener": listener, "audit": audit}
    challenge = {"WWW-Authenticate": f'Basic realm="{settings.realm}", charset="UTF-8"'}

    basic = HTTPBasicAuth(realm=settings.realm)  # parsing and challenge: flask-httpauth

    @basic.verify_password
    def _verify(login: str, password: str):
        g.outcome = None
        if not login:
            return None   # no credentials: challenge without spending a hash
        address = request.remote_addr or "0.0.0.0"
        key = cache.key(f"{login}\x00{password}")   # a keyed hash, never the password
        account = cache.get(key)
        if account is not None and not cache.is_locked(account.login, address):
            g.login = account.login
            return account
        listener.ensure_running()
        generation = cache.generation
        with gate_pool().connection() as conn:
            outcome = authenticate(conn, login, password, address)
        g.login, g.outcome = outcome.known_login, outcome
        if outcome.kind == "ok":
            cache.put(key, login, outcome.account, generation, outcome.lifetime)
            return outcome.account
        return None

    @basic.error_handler
    def _refused(status: int):
        outcome = g.get("outcome")
        from portail.observability import auth_failure
        auth_failure("missing" if outcome is None else outcome.kind)
        if outcome is not None and outcome.kind == "locked":
            body = {"code": "TooManyRequests",
                    "description": "Trop de tentatives de connexion échouées : réessayez dans "
                                   f"{outcome.retry_after} secondes."}
            return jsonify(body), 429, {"Retry-After": str(outcome.retry_after)}
        if outcome is not None and outcome.kind == "refused":
            # Still a 401 with the challenge: once the administrator has acted (new
            # password, re-enabled account), the client asks for credentials again.
            return jsonify({"code": "Unauthorized", "description": outcome.message}), 401, \
                challenge
        body = {"code": "Unauthorized",
                "description": "Authentification requise : identifiant ou mot de passe "
                               "manquant ou incorrect. Un compte personnel est délivré par "
                               "l'administrateur du portail (MEL)."}
        return jsonify(body), 401, challenge

    check_credentials = basic.login_required(lambda: None)

    @app.before_request
    def _gate():
        g.started = time.perf_counter()
        g.login = None
        if is_public(request.path):
            return None
        if request.method == "OPTIONS":
            # flask-httpauth lets OPTIONS through unauthenticated (for CORS preflights);
            # pygeoapi's items routes answer OPTIONS themselves, after loading the
            # provider. The portal is same-origin: OPTIONS needs an account like the rest.
            auth = basic.get_auth()
            if basic.authenticate(auth, basic.get_auth_password(auth)) in (None, False):
                return basic.auth_error_callback(401)
            return None
        return check_credentials()

    @app.after_request
    def _audit(response):
        if is_public(request.path):
            return response
        size = None if response.is_streamed else response.calculate_content_length()
        view_args = request.view_args or {}
        # A plain tuple in AUDIT_COLUMNS order: the cheapest thing to build per request.
        audit.record((time.time(), g.get("login"), request.remote_addr, request.method,
                      request.path[:512], view_args.get("collection_id"),
                      view_args.get("process_id"), response.status_code, size,
                      int((time.perf_counter() - g.get("started", time.perf_counter())) * 1000)))
        return response
