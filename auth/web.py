"""The web login and « Mon compte » (``register``): the browser's way in, beside HTTP basic.

- ``/connexion``: a form (CSRF token), checked by the same function as basic
  authentication (``auth.accounts.authenticate``): the same brute-force rules, the same
  messages. A password over a year old opens a session that may only change it.
- ``/deconnexion``: a form button (POST, CSRF); the session is cleared, and the pages
  of data were never cached (``Cache-Control: private, no-store``), so the back button
  asks again.
- ``/mon-compte``: who the user is for the register (name, organisation and its
  convention, role, end of mission, last logins from the access log) and the links to
  the dictionary and the training pages; ``/mon-compte/mot-de-passe``: change of
  password (argon2id, the administrator's strength rules).
- ``/mot-de-passe-oublie``: records a request that the administrator sees; the answer
  is the same whatever is typed.
- French by default, English with ``?lang=en`` as the home page (``auth.langue``): the
  forms and the redirects keep it; the refusals of the register are shown in English by
  their code; the other messages of ``auth.accounts`` (change of password) stay French.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session
from flask_wtf.csrf import CSRFError
from psycopg.rows import dict_row

from auth import langue, websession
from auth.accounts import authenticate, change_password
from auth.notify import notify_password_request
from auth.register import MIN_PASSWORD_LENGTH, ROLES
from portail.errors import UserError

LOGGER = logging.getLogger(__name__)

BLUEPRINT = Blueprint("compte", __name__, template_folder=str(Path(__file__).parent / "templates"))

BAD_CREDENTIALS = ("Identifiant ou mot de passe incorrect. Un compte personnel est délivré par "
                   "l'administrateur du portail (MEL).")
BAD_CREDENTIALS_EN = ("Wrong login or password. A personal account is given by the portal's "
                      "administrator (MEL).")


def _pool():
    return current_app.extensions["portail_compte"]["gate_pool"]()


def _html(body: str, status: int = 200, headers: dict | None = None):
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return body, status, headers


def _next_page(value: str | None) -> str:
    """Where to go after the login: a path of this site only (no open redirect)."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if not value.startswith("/") or value.startswith("//") or parts.scheme or parts.netloc \
            or "\\" in value:
        return "/"
    return value


def _audit_login(login: str | None, status: int, started: float) -> None:
    """The login form's attempt in the access log (its page is public, so the gate's
    after-request hook does not see it): the login only if it exists."""
    audit = current_app.extensions["portail_gate"]["audit"]
    audit.record((time.time(), login, request.remote_addr, "POST", "/connexion", None, None,
                  status, None, int((time.perf_counter() - started) * 1000)))


@BLUEPRINT.get("/connexion")
def login_form():
    if session.get("login") and websession.current():
        return redirect(langue.keep(_next_page(request.args.get("suivant"))), 303)
    expired = session.pop("expiree", False)
    message = (langue.t("Votre session a expiré après une période d'inactivité : "
                        "reconnectez-vous.",
                        "Your session expired after a period of inactivity: log in again.")
               if expired else None)
    return _html(render_template("compte/connexion.html", message=message,
                                 suivant=_next_page(request.args.get("suivant")), login=""))


@BLUEPRINT.post("/connexion")
def login_submit():
    started = time.perf_counter()
    login = (request.form.get("identifiant") or "").strip()
    password = request.form.get("mot_de_passe") or ""
    target = _next_page(request.form.get("suivant"))

    def again(message, status):
        return _html(render_template("compte/connexion.html", message=message, suivant=target,
                                     login=login), status)

    if not login or not password:
        return again(langue.t("Saisissez votre identifiant et votre mot de passe.",
                              "Type your login and your password."), 400)
    address = request.remote_addr or "0.0.0.0"
    with _pool().connection() as conn:
        outcome = authenticate(conn, login, password, address)
    if outcome.kind == "locked":
        _audit_login(outcome.known_login, 429, started)
        return again(langue.t("Trop de tentatives de connexion échouées : réessayez dans "
                              f"{outcome.retry_after} secondes.",
                              f"Too many failed logins: try again in {outcome.retry_after} "
                              "seconds."), 429)
    if outcome.kind == "refused" and outcome.refusal == "password_stale":
        # Asked to change it now, instead of being refused (the password is right).
        websession.start(login, outcome.password_changed_at, must_change=True)
        _audit_login(login, 303, started)
        return redirect(langue.keep("/mon-compte/mot-de-passe"), 303)
    if outcome.kind == "refused":
        _audit_login(login, 401, started)
        return again(langue.t(outcome.message, outcome.message_en or outcome.message), 401)
    if outcome.kind != "ok":
        _audit_login(outcome.known_login, 401, started)
        return again(langue.t(BAD_CREDENTIALS, BAD_CREDENTIALS_EN), 401)
    websession.start(outcome.account.login, outcome.password_changed_at)
    _audit_login(outcome.account.login, 303, started)
    return redirect(langue.keep(target), 303)


@BLUEPRINT.post("/deconnexion")
def logout():
    websession.end()
    return redirect(langue.keep("/connexion?au-revoir=1"), 303)


def _account_row(conn: psycopg.Connection, login: str) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """SELECT s.login, s.full_name, s.email, s.role, s.organisation,
                      s.organisation_kind, s.assignment_ends_on, s.password_changed_at,
                      s.expires_at, o.convention_signed_on, o.deliberation_ref
               FROM register.account_status s
               JOIN register.account a USING (login)
               LEFT JOIN register.organisation o USING (organisation_id)
               WHERE s.login = %s""", [login]).fetchone()
        logins = cur.execute("SELECT * FROM register.gate_recent_logins(%s, 10)",
                             [login]).fetchall()
    row["logins"] = logins
    row["role_label"] = (langue.ROLES_EN if langue.english() else ROLES).get(row["role"],
                                                                           row["role"])
    return row


@BLUEPRINT.get("/mon-compte")
def my_account():
    if not g.get("via_session") and not g.get("login"):
        return redirect(langue.keep("/connexion?suivant=/mon-compte"), 303)
    with _pool().connection() as conn:
        row = _account_row(conn, g.login)
    return _html(render_template("compte/mon_compte.html", compte=row,
                                 via_session=g.get("via_session")))


@BLUEPRINT.route("/mon-compte/mot-de-passe", methods=["GET", "POST"])
def password_form():
    forced = bool(session.get("changer"))
    message, done = None, False
    status = 200
    if request.method == "POST":
        try:
            with _pool().connection() as conn:
                change_password(conn, g.login, request.form.get("actuel") or "",
                                request.form.get("nouveau") or "",
                                request.form.get("confirmation") or "",
                                request.remote_addr or "0.0.0.0")
                changed_at = conn.execute(
                    "SELECT password_changed_at FROM register.account WHERE login = %s",
                    [g.login]).fetchone()[0]
                if forced:
                    conn.execute("SELECT register.gate_success(%s, %s::inet)",
                                 [g.login, request.remote_addr or "0.0.0.0"])
        except UserError as exc:
            message, status = exc.message, 400
        else:
            LOGGER.info("password changed by its owner: login=%s", g.login)
            if g.get("via_session"):
                websession.start(g.login, changed_at)   # this session goes on
            forced, done = False, True
    return _html(render_template("compte/mot_de_passe.html", message=message, done=done,
                                 forced=forced, min_length=MIN_PASSWORD_LENGTH), status)


@BLUEPRINT.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def forgotten():
    sent = False
    if request.method == "POST":
        identifier = (request.form.get("identifiant") or "").strip()[:254]
        if identifier:
            address = request.remote_addr or "0.0.0.0"
            with _pool().connection() as conn:
                recorded = conn.execute("SELECT register.gate_request_password(%s, %s::inet)",
                                        [identifier, address]).fetchone()[0]
            if recorded:
                notify_password_request(identifier, address,
                                        current_app.extensions["portail_compte"]["url"])
        sent = True
    return _html(render_template("compte/oubli.html", sent=sent))


def _csrf_refused(exc: CSRFError):
    LOGGER.warning("CSRF token refused: %s %s", request.method, request.path)
    return _html(render_template(
        "compte/erreur.html", titre=langue.t("Formulaire refusé", "Form refused"),
        message=langue.t("Le formulaire a expiré ou ne vient pas de ce site (jeton de sécurité "
                         "absent ou invalide). Rechargez la page et recommencez.",
                         "The form expired or does not come from this site (security token "
                         "missing or invalid). Reload the page and try again.")), 400)


def register(app: Flask, gate_pool, public_url: str = "") -> None:
    """The login pages; needs the gate (``auth.gate.install``) installed before."""
    app.extensions["portail_compte"] = {"gate_pool": gate_pool, "url": public_url}
    app.register_blueprint(BLUEPRINT)
    app.register_error_handler(CSRFError, _csrf_refused)

    app.context_processor(langue.template_values)

    @app.context_processor
    def _signed_in():
        account = g.get("account")
        # On a public page the gate does not check the session: the signed cookie's login
        # is shown in the menu (no data), the administration link only once checked.
        shown = g.get("login") if g.get("via_session") else session.get("login")
        return {"session_login": shown,
                "session_admin": bool(g.get("via_session") and account is not None
                                      and account.role == "admin")}
