"""The user register, for the administrator: organisations, accounts, the yearly review.

Every function takes a connection of the owner role (the register's only
writer) and leaves the transaction to the caller, except the imports and the
review, which are one transaction each. Passwords are generated here, returned
once to the caller (shown or written to a 0600 file), and stored as argon2id.
"""
from __future__ import annotations

import csv
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from auth.passwords import generate_password, hash_password
from auth.rules import check_email
from portail.errors import UserError

LOGIN_RE = re.compile(r"^[A-Za-z0-9._@-]{2,128}$")
MIN_PASSWORD_LENGTH = 12

KINDS = {
    "mel": "Métropole Européenne de Lille",
    "commune": "commune",
    "bailleur": "bailleur social",
    "etat": "État (DDTM)",
    "departement": "Département",
    "urh": "Union régionale HLM",
    "action_logement": "Action Logement",
    "tiers": "tiers (bureau d'études, opérateur, association) sous convention",
}
ROLES = {"partner": "partenaire", "third_party": "tiers", "admin": "administrateur"}
# French names accepted in the annexed CSV as well.
ROLE_ALIASES = {"partenaire": "partner", "tiers": "third_party", "administrateur": "admin",
                **{r: r for r in ROLES}}

# Renewal is proposed this long before the password's first anniversary.
RENEWAL_NOTICE_DAYS = 30


# -- organisations ---------------------------------------------------------------
def add_organisation(conn: psycopg.Connection, name: str, kind: str, signed_on: date,
                     deliberation: str, ends_on: date | None = None) -> int:
    """Record an organisation that signed the convention; returns its id."""
    name = (name or "").strip()
    if kind not in KINDS:
        raise UserError(f"Type d'organisation inconnu : {kind!r}.",
                        hint="Types : " + ", ".join(KINDS))
    if not name:
        raise UserError("Le nom de l'organisation est vide.")
    if not (deliberation or "").strip():
        raise UserError("La référence de la délibération est obligatoire "
                        "(article 5 : la délibération est annexée à la convention).")
    if signed_on > date.today():
        raise UserError(f"Date de signature dans le futur : {signed_on:%d/%m/%Y}.")
    if kind == "tiers" and ends_on is None:
        raise UserError("Un tiers n'a accès que pour la durée de sa mission.",
                        hint="Indiquez la fin de la mission : --fin-mission AAAA-MM-JJ.")
    if kind != "tiers" and ends_on is not None:
        raise UserError("Seuls les tiers ont une date de fin de mission.")
    if ends_on is not None and ends_on < signed_on:
        raise UserError("La mission se termine avant la signature de la convention.")
    try:
        with conn.transaction():
            row = conn.execute(
                """INSERT INTO register.organisation
                       (name, kind, convention_signed_on, deliberation_ref, assignment_ends_on)
                   VALUES (%s, %s, %s, %s, %s) RETURNING organisation_id""",
                [name, kind, signed_on, deliberation.strip(), ends_on]).fetchone()
    except psycopg.errors.UniqueViolation:
        raise UserError(f"L'organisation {name!r} existe déjà.") from None
    return row[0]


def set_assignment_end(conn: psycopg.Connection, name: str, ends_on: date) -> None:
    """Move the end of a third party's assignment (extension or early stop)."""
    org = organisation(conn, name)
    if org["kind"] != "tiers":
        raise UserError(f"{org['name']} n'est pas un tiers : pas de fin de mission.")
    conn.execute("UPDATE register.organisation SET assignment_ends_on = %s "
                 "WHERE organisation_id = %s", [ends_on, org["organisation_id"]])


def organisation(conn: psycopg.Connection, name: str) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM register.organisation WHERE lower(name) = lower(%s)",
                          [(name or "").strip()]).fetchone()
    if row is None:
        raise UserError(f"Organisation inconnue : {name!r}.",
                        hint="Enregistrez d'abord sa convention : portail-lls orgs add …")
    return row


def list_organisations(conn: psycopg.Connection) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT o.*, count(a.login) FILTER (WHERE a.disabled_at IS NULL) AS active_accounts,
                      count(a.login) AS accounts
               FROM register.organisation o LEFT JOIN register.account a USING (organisation_id)
               GROUP BY o.organisation_id ORDER BY o.name""").fetchall()


# -- accounts --------------------------------------------------------------------
def _check_login(login: str) -> str:
    if not LOGIN_RE.match(login or ""):
        raise UserError(f"Identifiant invalide {login!r}",
                        hint="2 à 128 caractères parmi lettres, chiffres, . _ @ -")
    return login


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"Mot de passe trop court ({MIN_PASSWORD_LENGTH} caractères au moins).")
    return password


def _check_role(role: str, org: dict) -> str:
    role = ROLE_ALIASES.get((role or "").strip().lower(), "")
    if not role:
        raise UserError(f"Rôle inconnu : {role!r}.", hint="Rôles : " + ", ".join(ROLES))
    if (org["kind"] == "tiers") != (role == "third_party"):
        raise UserError(f"Rôle {ROLES[role]} incompatible avec {org['name']} ({org['kind']}) : "
                        "les comptes d'un tiers, et eux seuls, ont le rôle tiers.")
    if role == "admin" and org["kind"] != "mel":
        raise UserError("Seule la MEL a des administrateurs du portail.")
    return role


def add_user(conn: psycopg.Connection, login: str, *, full_name: str, email: str,
             organisation_name: str, role: str = "partner", email_exception: str | None = None,
             expires_at: datetime | None = None, password: str | None = None) -> str:
    """Create an account; returns its password (generated unless given), to show once."""
    _check_login(login)
    if not (full_name or "").strip():
        raise UserError("Le nom de l'utilisateur est obligatoire (compte personnel).")
    org = organisation(conn, organisation_name)
    role = _check_role(role, org)
    email = check_email(email, email_exception)
    password = check_password(password) if password is not None else generate_password()
    try:
        with conn.transaction():
            conn.execute(
                """INSERT INTO register.account
                       (login, password_hash, full_name, email, email_exception,
                        organisation_id, role, expires_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                [login, hash_password(password), full_name.strip(), email,
                 (email_exception or "").strip() or None, org["organisation_id"], role,
                 expires_at])
    except psycopg.errors.UniqueViolation as exc:
        what = "L'adresse" if "email" in (exc.diag.constraint_name or "") else "L'identifiant"
        raise UserError(f"{what} est déjà utilisé(e) par un autre compte "
                        f"({login!r}, {email!r}).") from None
    return password


def _account(conn: psycopg.Connection, login: str) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM register.account_status WHERE login = %s",
                          [login]).fetchone()
    if row is None:
        raise UserError(f"Compte inconnu : {login!r}.",
                        hint="portail-lls users search TEXTE pour le retrouver.")
    return row


def disable_user(conn: psycopg.Connection, login: str, reason: str) -> None:
    """Deactivate at once (departure, misuse); only the administrator re-enables."""
    if not (reason or "").strip():
        raise UserError("Indiquez le motif de la désactivation (--motif).")
    account = _account(conn, login)
    if account["disabled_at"] is not None:
        raise UserError(f"Le compte {login} est déjà désactivé "
                        f"({account['disabled_reason']}).")
    conn.execute("UPDATE register.account SET disabled_at = now(), disabled_reason = %s "
                 "WHERE login = %s", [reason.strip(), login])


def enable_user(conn: psycopg.Connection, login: str, organisation_name: str | None = None) -> None:
    """Re-enable a deactivated account; restarts its "unused for a year" clock."""
    account = _account(conn, login)
    if account["disabled_at"] is None:
        raise UserError(f"Le compte {login} est déjà actif.")
    org_id = None
    if organisation_name:
        org_id = organisation(conn, organisation_name)["organisation_id"]
    elif account["organisation"] is None:
        raise UserError(f"Le compte {login} n'est rattaché à aucune organisation signataire.",
                        hint="Indiquez-la : --organisation NOM.")
    try:
        conn.execute("""UPDATE register.account
                           SET disabled_at = NULL, disabled_reason = NULL, reactivated_at = now(),
                               organisation_id = coalesce(%s, organisation_id)
                         WHERE login = %s""", [org_id, login])
    except psycopg.errors.CheckViolation:
        raise UserError(f"Le compte {login} n'a pas d'adresse e-mail : il ne peut être "
                        "réactivé tel quel.", hint="Créez un compte complet (users add).") from None


def reset_password(conn: psycopg.Connection, login: str, password: str | None = None) -> str:
    """A new password (generated unless given), valid one year; returns it, to show once."""
    _account(conn, login)
    password = check_password(password) if password is not None else generate_password()
    conn.execute("UPDATE register.account SET password_hash = %s, password_changed_at = now() "
                 "WHERE login = %s", [hash_password(password), login])
    return password


STATUSES = ("actif", "désactivé", "à désactiver", "mot de passe à renouveler")


def find_users(conn: psycopg.Connection, text: str | None = None,
               organisation_name: str | None = None, status: str | None = None) -> list[dict]:
    """Accounts matching a text (login, name, e-mail), an organisation, a status."""
    clauses, params = [], []
    if text:
        clauses.append("(login ILIKE %s OR full_name ILIKE %s OR email ILIKE %s)")
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern] * 3
    if organisation_name:
        clauses.append("lower(organisation) = lower(%s)")
        params.append(organisation_name.strip())
    rows = []
    query = ("SELECT login, full_name, email, role, organisation, organisation_kind, "
             "assignment_ends_on, created_at, last_login_at, last_active_at, password_changed_at, "
             "expires_at, disabled_at, disabled_reason, refusal FROM register.account_status")
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query + " ORDER BY login", params):
            row["status"] = status_of(row)
            if status is None or row["status"] == status:
                rows.append(row)
    return rows


def status_of(row: dict) -> str:
    refusal = row["refusal"]
    if refusal is None:
        return "actif"
    if refusal == "disabled":
        return "désactivé"
    if refusal == "password_stale":
        return "mot de passe à renouveler"
    return "à désactiver"


# -- import of the user list annexed to a convention -------------------------------
_COLUMNS = {
    "name": ("nom", "name", "nom complet", "prénom nom", "prenom nom"),
    "email": ("email", "e-mail", "courriel", "mail", "adresse e-mail"),
    "organisation": ("organisation", "organisme", "structure"),
    "role": ("role", "rôle", "profil"),
    "exception": ("exception", "motif exception"),
}


@dataclass
class ImportReport:
    created: list[dict] = field(default_factory=list)   # login, full_name, email, password
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # line, content, reason


def login_from_email(conn: psycopg.Connection, email: str) -> str:
    """prenom.nom from the address, made unique (prenom.nom2, …)."""
    local = unicodedata.normalize("NFKD", email.split("@", 1)[0].lower())
    base = re.sub(r"[^a-z0-9._-]", "", "".join(c for c in local if c.isascii()))[:120] or "compte"
    base = base if len(base) >= 2 else base + "0"
    candidate, n = base, 1
    while conn.execute("SELECT 1 FROM register.account WHERE login = %s",
                       [candidate]).fetchone():
        n += 1
        candidate = f"{base}{n}"
    return candidate


def import_users(conn: psycopg.Connection, path: Path,
                 default_organisation: str | None = None) -> ImportReport:
    """Import the annexed user list (CSV: name, e-mail, organisation, role).

    Valid lines create accounts with generated passwords; every other line is
    reported with its reason. One transaction: a crash leaves nothing half done.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"Fichier introuvable : {path}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} n'est pas en UTF-8.",
                        hint="Enregistrez-le en « CSV UTF-8 » depuis le tableur.") from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else "", delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    where = {}
    for key, names in _COLUMNS.items():
        for i, h in enumerate(header):
            if h in names:
                where[key] = i
    missing = [k for k in ("name", "email") if k not in where]
    if "organisation" not in where and not default_organisation:
        missing.append("organisation")
    if missing:
        raise UserError(f"{path} : colonne(s) manquante(s) : {', '.join(missing)}.",
                        hint="En-tête attendu : nom;email;organisation;role")
    report = ImportReport()
    with conn.transaction():
        for line_no, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue

            def cell(key, default=None, cells=cells):
                i = where.get(key)
                return cells[i].strip() if i is not None and i < len(cells) else default

            email = cell("email", "")
            org_name = cell("organisation") or default_organisation
            try:
                with conn.transaction():
                    login = login_from_email(conn, email) if "@" in email else "?"
                    password = add_user(conn, login, full_name=cell("name", ""), email=email,
                                        organisation_name=org_name,
                                        role=cell("role") or "partner",
                                        email_exception=cell("exception"))
            except UserError as exc:
                report.refused.append((line_no, ";".join(cells), exc.message))
                continue
            report.created.append({"login": login, "full_name": cell("name"), "email": email,
                                   "organisation": org_name, "password": password})
    return report


# -- the yearly review -----------------------------------------------------------------
@dataclass
class Review:
    to_disable: list[dict]   # unused for a year, assignment ended, expired
    to_renew: list[dict]     # password a year old, or will be within RENEWAL_NOTICE_DAYS


def review(conn: psycopg.Connection) -> Review:
    """What the yearly review would do, without changing anything."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT login, full_name, email, organisation, role, last_active_at,
                      password_changed_at, assignment_ends_on, expires_at, refusal,
                      password_changed_at < now() - interval '1 year'
                                            + make_interval(days => %s) AS renewal_due
               FROM register.account_status
               WHERE disabled_at IS NULL ORDER BY organisation, login""",
            [RENEWAL_NOTICE_DAYS]).fetchall()
    to_disable = [r for r in rows if r["refusal"] in ("unused", "assignment_ended", "expired")]
    to_renew = [r for r in rows if r["refusal"] is None and r["renewal_due"]
                or r["refusal"] == "password_stale"]
    return Review(to_disable, to_renew)


REASONS = {"unused": "inutilisé depuis plus d'un an (revue annuelle)",
           "assignment_ended": "fin de la mission du tiers (revue annuelle)",
           "expired": "compte expiré (revue annuelle)"}


def apply_review(conn: psycopg.Connection, plan: Review) -> list[dict]:
    """Deactivate and renew as planned, in one transaction; returns the new passwords."""
    renewed = []
    with conn.transaction():
        for row in plan.to_disable:
            conn.execute("UPDATE register.account SET disabled_at = now(), disabled_reason = %s "
                         "WHERE login = %s AND disabled_at IS NULL",
                         [REASONS[row["refusal"]], row["login"]])
        for row in plan.to_renew:
            password = reset_password(conn, row["login"])
            renewed.append({"login": row["login"], "full_name": row["full_name"],
                            "email": row["email"], "organisation": row["organisation"],
                            "password": password})
    return renewed


def write_password_file(path: Path, rows: list[dict]) -> None:
    """The new passwords for the administrator to send out: CSV, readable by its owner only."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["identifiant", "nom", "email", "organisation", "mot_de_passe"])
        for r in rows:
            writer.writerow([r["login"], r["full_name"], r["email"], r["organisation"],
                             r["password"]])
