"""The gate: HTTP basic authentication in front of the portal (``install``).

The app is composed in ``portail.app``, which installs the gate first. Every route needs a personal account except an explicit list of public ones
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
import time
from typing import Callable

from urllib.parse import quote

from flask import Flask, g, jsonify, redirect, request
from flask_httpauth import HTTPBasicAuth

from auth import langue, websession
from auth.accounts import authenticate, session_account
from auth.audit import AuditWriter
from auth.cache import CredentialCache, RegisterListener
from portail.settings import Settings

LOGGER = logging.getLogger(__name__)

# Routes open without an account: nothing here returns data.
# /ready and /metrics: see portail.observability (/metrics is restricted by network).
# The web login's public pages (auth/web.py) and the home page's training pages: forms
# and explanations, no data.
PUBLIC_PATHS = frozenset({"/", "/health", "/ready", "/metrics", "/connexion",
                          "/mot-de-passe-oublie"})
PUBLIC_PREFIXES = ("/static/", "/aide/")
# What a session waiting for a new password (its password is over a year old) may open.
MUST_CHANGE_PATHS = frozenset({"/mon-compte/mot-de-passe", "/deconnexion"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PAGE = "/connexion"

SECURITY_SCHEME = "basicAuth"


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
    return document


def install(app: Flask, settings: Settings, gate_pool: Callable,
            on_refusal: Callable[[str], None] = lambda reason: None) -> None:
    """Put the gate in front of every route of ``app`` but the public ones.

    ``gate_pool`` gives the pool of the gate role; ``on_refusal`` is told the reason
    of each refusal (``missing``, ``bad``, ``locked``, ``refused``: the metrics).
    Installed before any other part's request hook, its check runs first.
    """
    cache = CredentialCache()
    cache.enabled = False   # until this worker's listener is connected
    listener = RegisterListener(cache, settings.gate_dsn)
    audit = AuditWriter(lambda: gate_pool().connection())
    websession.configure(app, settings.state_dir, settings.public_url)
    app.extensions["portail_gate"] = {"cache": cache, "listener": listener, "audit": audit}
    challenge = {"WWW-Authenticate": f'Basic realm="{settings.realm}", charset="UTF-8"'}

    basic = HTTPBasicAuth(realm=settings.realm)  # parsing and challenge: flask-httpauth

    @basic.verify_password
    def _verify(login: str, password: str):
        g.outcome = None
        if not login:
            return None   # no credentials: challenge without spending a hash
        if "\x00" in login or "\x00" in password:
            return None   # no account has one; keeps the key spaces below apart
        address = request.remote_addr or "0.0.0.0"
        # A keyed hash, never the password; "basic" and "session" keys never meet.
        key = cache.key(f"basic\x00{login}\x00{password}")
        account = cache.get(key)
        if account is not None and not cache.is_locked(account.login, address):
            g.login, g.account = account.login, account
            return account
        listener.ensure_running()
        generation = cache.generation
        with gate_pool().connection() as conn:
            outcome = authenticate(conn, login, password, address)
        g.login, g.outcome = outcome.known_login, outcome
        if outcome.kind == "ok":
            cache.put(key, login, outcome.account, generation, outcome.lifetime)
            g.account = outcome.account
            return outcome.account
        return None

    @basic.error_handler
    def _refused(status: int):
        outcome = g.get("outcome")
        on_refusal("missing" if outcome is None else outcome.kind)
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

    def _session_account(web: dict):
        """The account of a signed-in browser session, if the register still allows it."""
        key = cache.key(f"session\x00{len(web['login'])}\x00{web['login']}\x00{web['pwd']}")
        if not web["must_change"]:
            account = cache.get(key)
            if account is not None:
                return account
        listener.ensure_running()
        generation = cache.generation
        with gate_pool().connection() as conn:
            outcome = session_account(conn, web["login"], web["pwd"], web["must_change"])
        if outcome.kind != "ok":
            return None
        if not web["must_change"]:
            cache.put(key, web["login"], outcome.account, generation, outcome.lifetime)
        return outcome.account

    @app.before_request
    def _gate():
        g.started = time.perf_counter()
        g.login = None
        g.via_session = False
        basic_given = "Authorization" in request.headers
        unsafe = request.method not in SAFE_METHODS
        if unsafe and request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
            # A form or script of another site: a browser adds the Basic credentials it
            # remembers to it, which the CSRF token (checked for sessions only) would
            # not stop. QGIS, GDAL and scripts send no Sec-Fetch-Site.
            return jsonify({"code": "Forbidden", "description": "Requête d'un autre site "
                                                                "refusée."}), 403
        if is_public(request.path):
            if unsafe and not basic_given:
                websession.csrf.protect()
            return None
        if not basic_given:
            web = websession.current()
            if web is not None:
                account = _session_account(web)
                if account is not None:
                    g.login, g.account, g.via_session = account.login, account, True
                    if web["must_change"] and request.path not in MUST_CHANGE_PATHS:
                        return redirect(langue.keep("/mon-compte/mot-de-passe"), 303)
                    if unsafe:
                        websession.csrf.protect()
                    return None
                websession.end()
            if request.headers.get("Sec-Fetch-Mode") == "navigate" and request.method == "GET":
                # A browser opening a page: the login form, then back here. Programs
                # (QGIS, GDAL, scripts) get the Basic challenge below.
                target = request.full_path if request.query_string else request.path
                return redirect(langue.keep(f"{LOGIN_PAGE}?suivant={quote(target, safe='/')}"),
                                303)
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
