"""The administration console (``register``): the register's CLI verbs as guided pages.

Only an account of role ``admin`` opens ``/admin…`` (403 otherwise). Every action is a
POST (CSRF token with the web session) whose path names its object
(``/admin/comptes/<login>/desactiver``…): the gate writes it to the access log with the
administrator's login, the method, the path and the status, so the log says who did what
to whom; an operator log line says it too. A password (creation, import, reset, review)
is shown once, in the answer to that POST (``no-store``), and never written to a log.

The register's writer is the owner role: the console connects with the owner's DSN
(``settings.owner_dsn()``, the same as the CLI); where the web service is not given the
owner's password, the console answers 503 and the CLI remains.

French by default, English with ``?lang=en`` (``auth.langue``, as the home page): the
forms and links keep it. The register's own messages (``UserError`` of ``auth.register``,
French text without a code) stay French.
"""
from __future__ import annotations

import io
import logging
import os
import tempfile
from datetime import date
from functools import wraps
from pathlib import Path

import psycopg
from flask import Blueprint, Response, abort, current_app, g, render_template, request
from psycopg.rows import dict_row

from auth import langue
from auth import register as reg
from auth.audit import export_csv
from auth.welcome import welcome_letter_pdf
from portail.db import connect
from portail.errors import UserError

LOGGER = logging.getLogger(__name__)

BLUEPRINT = Blueprint("admin", __name__, url_prefix="/admin",
                      template_folder=str(Path(__file__).parent / "templates"))
NO_STORE = {"Cache-Control": "private, no-store"}


def _owner():
    return connect(current_app.extensions["portail_admin"]["owner_dsn"](), autocommit=True)


def _page(template: str, status: int = 200, **values):
    values.setdefault("erreur", status >= 400)
    return render_template(f"admin/{template}", **values), status, NO_STORE


def admin_only(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        account = g.get("account")
        if account is None or account.role != "admin":
            abort(403)
        try:
            return view(*args, **kwargs)
        except (psycopg.OperationalError, KeyError) as exc:
            LOGGER.error("admin console: register unavailable (%s)", type(exc).__name__)
            return _page("message.html", 503,
                         titre=langue.t("Registre indisponible", "Register unavailable"),
                         message=langue.t("Le registre ne peut être modifié depuis ce service "
                                          "(rôle propriétaire non configuré) : utilisez la "
                                          "commande portail-lls.",
                                          "The register cannot be changed from this service "
                                          "(owner role not configured): use the portail-lls "
                                          "command."))
    return wrapped


def _done(what: str, **values):
    LOGGER.info("admin action by %s: %s", g.login, what)
    return values


def _date(value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(langue.t(f"Date invalide : {value!r} (attendu AAAA-MM-JJ).",
                                 f"Invalid date: {value!r} (expected YYYY-MM-DD).")) from None


@BLUEPRINT.get("/")
@admin_only
def home():
    with _owner() as conn, conn.cursor(row_factory=dict_row) as cur:
        requests_ = cur.execute(
            "SELECT request_id, identifier, login, address, requested_at "
            "FROM register.password_request WHERE handled_at IS NULL "
            "ORDER BY requested_at").fetchall()
        plan = reg.review(conn)
    return _page("accueil.html", demandes=requests_, revue=plan)


@BLUEPRINT.post("/demandes/<int:request_id>/traitee")
@admin_only
def request_handled(request_id: int):
    with _owner() as conn:
        conn.execute("UPDATE register.password_request SET handled_at = now(), handled_by = %s "
                     "WHERE request_id = %s", [g.login, request_id])
    _done(f"password request {request_id} handled")
    return _page("message.html", titre=langue.t("Demande traitée", "Request handled"),
                 message=langue.t("La demande est marquée comme traitée.",
                                  "The request is marked as handled."), retour="/admin/")


# -- organisations -----------------------------------------------------------------------
@BLUEPRINT.route("/organisations", methods=["GET", "POST"])
@admin_only
def organisations():
    message, status = None, 200
    with _owner() as conn:
        if request.method == "POST":
            f = request.form
            try:
                reg.add_organisation(conn, f.get("nom", ""), f.get("type", ""),
                                     _date(f.get("signee_le")) or date.today(),
                                     f.get("deliberation", ""), _date(f.get("fin_mission")))
                message = langue.t(f"Organisation « {f.get('nom', '').strip()} » enregistrée.",
                                   f"Organisation « {f.get('nom', '').strip()} » recorded.")
                _done(f"organisation added: {f.get('nom', '').strip()}")
            except UserError as exc:
                message, status = exc.message + (f" {exc.hint}" if exc.hint else ""), 400
        orgs = reg.list_organisations(conn)
    return _page("organisations.html", status, organisations=orgs,
                 kinds=langue.KINDS_EN if langue.english() else reg.KINDS,
                 message=message, erreur=status != 200)


@BLUEPRINT.post("/organisations/<int:organisation_id>/fin-mission")
@admin_only
def organisation_end(organisation_id: int):
    with _owner() as conn:
        name = conn.execute("SELECT name FROM register.organisation WHERE organisation_id = %s",
                            [organisation_id]).fetchone()
        if name is None:
            abort(404)
        try:
            reg.set_assignment_end(conn, name[0], _date(request.form.get("fin_mission"))
                                   or date.today())
        except UserError as exc:
            return _page("message.html", 400, titre=langue.t("Refusé", "Refused"),
                         message=exc.message,
                         retour="/admin/organisations")
    _done(f"assignment end of organisation {organisation_id}")
    return _page("message.html", titre=langue.t("Fin de mission enregistrée",
                                                "End of assignment recorded"),
                 message=langue.t(f"Nouvelle fin de mission pour {name[0]}.",
                                  f"New end of assignment for {name[0]}."),
                 retour="/admin/organisations")


# -- accounts ------------------------------------------------------------------------------
@BLUEPRINT.get("/comptes")
@admin_only
def accounts():
    text = (request.args.get("q") or "").strip() or None
    status = request.args.get("statut") or None
    with _owner() as conn:
        rows = reg.find_users(conn, text=text,
                              status=status if status in reg.STATUSES else None)
        orgs = reg.list_organisations(conn)
    return _page("comptes.html", comptes=rows, q=text or "", statut=status or "",
                 statuts=reg.STATUSES, organisations=orgs,
                 roles=langue.ROLES_EN if langue.english() else reg.ROLES,
                 statut_label=langue.STATUSES_EN if langue.english() else {})


@BLUEPRINT.post("/comptes")
@admin_only
def account_create():
    f = request.form
    with _owner() as conn:
        try:
            login = (f.get("identifiant") or "").strip() or \
                reg.login_from_email(conn, (f.get("email") or "").strip())
            password = reg.add_user(conn, login, full_name=f.get("nom", ""),
                                    email=f.get("email", ""),
                                    organisation_name=f.get("organisation", ""),
                                    role=f.get("role") or "partner",
                                    email_exception=f.get("exception") or None)
        except UserError as exc:
            return _page("message.html", 400, titre=langue.t("Compte refusé", "Account refused"),
                         message=exc.message + (f" {exc.hint}" if exc.hint else ""),
                         retour="/admin/comptes")
    _done(f"account created: {login}")
    return _page("mots_de_passe.html", titre=langue.t("Compte créé", "Account created"),
                 comptes=[{"login": login, "full_name": f.get("nom"), "password": password}])


@BLUEPRINT.post("/comptes/<login>/desactiver")
@admin_only
def account_disable(login: str):
    with _owner() as conn:
        try:
            reg.disable_user(conn, login, request.form.get("motif") or "")
        except UserError as exc:
            return _page("message.html", 400, titre=langue.t("Refusé", "Refused"),
                         message=exc.message,
                         retour="/admin/comptes")
    _done(f"account disabled: {login}")
    return _page("message.html", titre=langue.t("Compte désactivé", "Account disabled"),
                 message=langue.t(f"Le compte {login} est désactivé.",
                                  f"The account {login} is disabled."), retour="/admin/comptes")


@BLUEPRINT.post("/comptes/<login>/reactiver")
@admin_only
def account_enable(login: str):
    with _owner() as conn:
        try:
            reg.enable_user(conn, login)
        except UserError as exc:
            return _page("message.html", 400, titre=langue.t("Refusé", "Refused"),
                         message=exc.message,
                         retour="/admin/comptes")
    _done(f"account enabled: {login}")
    return _page("message.html", titre=langue.t("Compte réactivé", "Account enabled"),
                 message=langue.t(f"Le compte {login} est réactivé.",
                                  f"The account {login} is enabled again."),
                 retour="/admin/comptes")


@BLUEPRINT.post("/comptes/<login>/reinitialiser")
@admin_only
def account_reset(login: str):
    with _owner() as conn:
        try:
            password = reg.reset_password(conn, login)
            conn.execute("UPDATE register.password_request SET handled_at = now(), "
                         "handled_by = %s WHERE login = %s AND handled_at IS NULL",
                         [g.login, login])
        except UserError as exc:
            return _page("message.html", 400, titre=langue.t("Refusé", "Refused"),
                         message=exc.message,
                         retour="/admin/comptes")
    _done(f"password reset: {login}")
    return _page("mots_de_passe.html", titre=langue.t("Nouveau mot de passe", "New password"),
                 comptes=[{"login": login, "full_name": "", "password": password}])


@BLUEPRINT.post("/comptes/import")
@admin_only
def accounts_import():
    upload = request.files.get("fichier")
    if upload is None or not upload.filename:
        return _page("message.html", 400, titre=langue.t("Import refusé", "Import refused"),
                     message=langue.t("Choisissez le fichier CSV de la liste annexée.",
                                      "Choose the CSV file of the annexed list."),
                     retour="/admin/comptes")
    fd, name = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.read())
        with _owner() as conn:
            try:
                report = reg.import_users(conn, Path(name),
                                          request.form.get("organisation") or None)
            except UserError as exc:
                return _page("message.html", 400,
                             titre=langue.t("Import refusé", "Import refused"),
                             message=exc.message + (f" {exc.hint}" if exc.hint else ""),
                             retour="/admin/comptes")
    finally:
        os.unlink(name)
    _done(f"import: {len(report.created)} created, {len(report.refused)} refused")
    return _page("import.html", rapport=report)


@BLUEPRINT.get("/comptes/<login>/lettre.pdf")
@admin_only
def welcome_letter(login: str):
    with _owner() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """SELECT s.login, s.full_name, s.email, s.role, s.organisation,
                      s.assignment_ends_on, o.convention_signed_on, o.deliberation_ref
               FROM register.account_status s JOIN register.account a USING (login)
               LEFT JOIN register.organisation o USING (organisation_id)
               WHERE s.login = %s""", [login]).fetchone()
    if row is None:
        abort(404)
    pdf = welcome_letter_pdf(row, public_url=current_app.extensions["portail_admin"]["url"])
    _done(f"welcome letter: {login}")
    return Response(pdf, mimetype="application/pdf", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="bienvenue-{login}.pdf"'})


# -- the yearly review -------------------------------------------------------------------
@BLUEPRINT.route("/revue", methods=["GET", "POST"])
@admin_only
def yearly_review():
    with _owner() as conn:
        plan = reg.review(conn)
        unused = [r for r in plan.to_disable if r["refusal"] == "unused"]
        ended = [r for r in plan.to_disable if r["refusal"] == "assignment_ended"]
        expired = [r for r in plan.to_disable if r["refusal"] == "expired"]
        if request.method == "POST":
            if request.form.get("confirmer") != "oui":
                return _page("message.html", 400,
                             titre=langue.t("Revue non appliquée", "Review not applied"),
                             message=langue.t("Cochez la confirmation pour appliquer la revue.",
                                              "Tick the confirmation to apply the review."),
                             retour="/admin/revue")
            renewed = reg.apply_review(conn, plan)
            _done(f"yearly review applied: {len(plan.to_disable)} disabled, "
                  f"{len(renewed)} renewed")
            return _page("mots_de_passe.html",
                         titre=langue.t("Revue annuelle appliquée", "Yearly review applied"),
                         comptes=renewed, desactives=plan.to_disable)
    return _page("revue.html", inutilises=unused, fins=ended, expires=expired,
                 a_renouveler=plan.to_renew)


# -- the access log ----------------------------------------------------------------------
def _log_filters() -> dict:
    return {"since": _date(request.args.get("depuis")),
            "until": _date(request.args.get("jusqu_au")),
            "login": (request.args.get("identifiant") or "").strip() or None}


@BLUEPRINT.get("/journal")
@admin_only
def access_log():
    try:
        filters = _log_filters()
    except UserError as exc:
        return _page("message.html", 400, titre=langue.t("Recherche refusée", "Search refused"),
                     message=exc.message,
                     retour="/admin/journal")
    clauses, params = [], []
    if filters["since"]:
        clauses.append("at >= %s")
        params.append(filters["since"])
    if filters["until"]:
        clauses.append("at < %s::date + 1")
        params.append(filters["until"])
    if filters["login"]:
        clauses.append("login = %s")
        params.append(filters["login"])
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    with _owner() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT at, login, address, method, route, collection, process, "
                           "status FROM register.audit_log" + where +
                           " ORDER BY at DESC LIMIT 500", params).fetchall()
    return _page("journal.html", lignes=rows, args=request.args)


@BLUEPRINT.get("/journal.csv")
@admin_only
def access_log_csv():
    filters = _log_filters()
    out = io.StringIO()
    with _owner() as conn:
        export_csv(conn, out, since=filters["since"], until=filters["until"],
                   login=filters["login"])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        **NO_STORE, "Content-Disposition": 'attachment; filename="journal-acces.csv"'})


def register(app, owner_dsn, public_url: str) -> None:
    """The console on the app (after the gate: its pages need an account of role admin)."""
    app.extensions["portail_admin"] = {"owner_dsn": owner_dsn, "url": public_url}
    app.register_blueprint(BLUEPRINT)


