"""`portail-lls users|orgs|audit …`: the register, for the portal administrator.

Every verb runs as the owner role (the register's only writer). Passwords are
generated strong, shown once or written to a file readable by its owner only.
"""
from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from portail.settings import get_settings


def _conn():
    from portail.db import connect
    return connect(get_settings().owner_dsn())


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} : date attendue au format AAAA-MM-JJ.") from None


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _show_password(login: str, password: str) -> None:
    click.echo(f"Mot de passe de {login} (affiché une seule fois) : {password}")


# -- organisations -------------------------------------------------------------------------
@click.group()
def orgs():
    """Organisations signataires de la convention."""


@orgs.command("add")
@click.argument("name")
@click.option("--type", "kind", required=True,
              help="mel, commune, bailleur, etat, departement, urh, action_logement, tiers")
@click.option("--signee-le", "signed_on", required=True, callback=_date,
              help="Date de signature de la convention (AAAA-MM-JJ).")
@click.option("--deliberation", required=True, help="Référence de la délibération annexée.")
@click.option("--fin-mission", "ends_on", callback=_date,
              help="Tiers : date de fin de la mission (AAAA-MM-JJ).")
def orgs_add(name, kind, signed_on, deliberation, ends_on):
    """Enregistre une organisation qui a signé la convention."""
    from auth.register import add_organisation
    with _conn() as conn:
        add_organisation(conn, name, kind, signed_on, deliberation, ends_on)
    click.echo(f"Organisation {name} enregistrée.")


@orgs.command("set-end")
@click.argument("name")
@click.argument("ends_on", callback=_date)
def orgs_set_end(name, ends_on):
    """Change la date de fin de mission d'un tiers."""
    from auth.register import set_assignment_end
    with _conn() as conn:
        set_assignment_end(conn, name, ends_on)
    click.echo(f"Fin de mission de {name} : {_fmt(ends_on)}.")


@orgs.command("list")
def orgs_list():
    """Liste les organisations et leurs comptes."""
    from auth.register import list_organisations
    with _conn() as conn:
        rows = list_organisations(conn)
    for r in rows:
        end = f", fin de mission {_fmt(r['assignment_ends_on'])}" if r["assignment_ends_on"] else ""
        click.echo(f"{r['name']} [{r['kind']}] convention du {_fmt(r['convention_signed_on'])} "
                   f"({r['deliberation_ref']}){end} : {r['active_accounts']} compte(s) actif(s) "
                   f"sur {r['accounts']}")
    if not rows:
        click.echo("Aucune organisation enregistrée.")


# -- users ----------------------------------------------------------------------------------------
@click.group()
def users():
    """Comptes des utilisateurs."""


@users.command("add")
@click.argument("login")
@click.option("--nom", "full_name", required=True, help="Prénom et nom de l'utilisateur.")
@click.option("--email", required=True, help="Adresse professionnelle nominative.")
@click.option("--organisation", "organisation_name", required=True)
@click.option("--role", default="partner", show_default=True, help="partner, third_party, admin")
@click.option("--exception", "email_exception",
              help="Motif d'une exception à la règle de l'adresse nominative.")
@click.option("--expire-le", "expires_on", callback=_date, help="Fin de validité (AAAA-MM-JJ).")
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard.")
def users_add(login, full_name, email, organisation_name, role, email_exception, expires_on,
              password_stdin):
    """Crée un compte personnel ; le mot de passe est affiché une seule fois."""
    from auth.register import add_user
    given = sys.stdin.readline().rstrip("\n") if password_stdin else None
    expires_at = datetime.combine(expires_on, datetime.min.time()).astimezone() \
        if expires_on else None
    with _conn() as conn:
        password = add_user(conn, login, full_name=full_name, email=email,
                            organisation_name=organisation_name, role=role,
                            email_exception=email_exception, expires_at=expires_at,
                            password=given)
    click.echo(f"Compte {login} créé.")
    if given is None:
        _show_password(login, password)


@users.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organisation", "default_organisation",
              help="Organisation des lignes qui n'en indiquent pas.")
@click.option("--mots-de-passe", "passwords_out", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier (créé, lisible par vous seul) des mots de passe à transmettre.")
def users_import(csv_file, default_organisation, passwords_out):
    """Importe la liste des utilisateurs annexée à une convention (nom;email;organisation;role)."""
    from auth.register import import_users, write_password_file
    from portail.errors import UserError
    if passwords_out.exists():
        raise UserError(f"{passwords_out} existe déjà : choisissez un autre fichier.")
    with _conn() as conn:
        report = import_users(conn, csv_file, default_organisation)
        if report.created:
            write_password_file(passwords_out, report.created)
    click.echo(f"{len(report.created)} compte(s) créé(s), {len(report.refused)} ligne(s) refusée(s).")
    for line, content, reason in report.refused:
        click.echo(f"  ligne {line} refusée : {reason}  [{content}]")
    if report.created:
        click.echo(f"Mots de passe à transmettre : {passwords_out} (mode 0600).")


@users.command("disable")
@click.argument("login")
@click.option("--motif", "reason", required=True, help="Départ, fin de mission, mauvais usage…")
def users_disable(login, reason):
    """Désactive un compte immédiatement (départ de l'utilisateur)."""
    from auth.register import disable_user
    with _conn() as conn:
        disable_user(conn, login, reason)
    click.echo(f"Compte {login} désactivé.")


@users.command("enable")
@click.argument("login")
@click.option("--organisation", "organisation_name", help="Rattacher à cette organisation.")
@click.option("--nouveau-mot-de-passe", "new_password", is_flag=True,
              help="Générer aussi un nouveau mot de passe.")
def users_enable(login, organisation_name, new_password):
    """Réactive un compte désactivé (décision de l'administrateur)."""
    from auth.register import enable_user, reset_password
    with _conn() as conn:
        enable_user(conn, login, organisation_name)
        password = reset_password(conn, login) if new_password else None
    click.echo(f"Compte {login} réactivé.")
    if password:
        _show_password(login, password)


@users.command("reset")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard.")
def users_reset(login, password_stdin):
    """Donne un nouveau mot de passe (valable un an), affiché une seule fois."""
    from auth.register import reset_password
    given = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with _conn() as conn:
        password = reset_password(conn, login, given)
    click.echo(f"Mot de passe de {login} changé.")
    if given is None:
        _show_password(login, password)


def _print_users(rows) -> None:
    for r in rows:
        click.echo(f"{r['login']:<24} {r['full_name'] or '':<28} {r['email'] or '':<36} "
                   f"{r['organisation'] or '—'} | {r['role']} | {r['status']} | "
                   f"dernière connexion {_fmt(r['last_login_at'])} | "
                   f"mot de passe du {_fmt(r['password_changed_at'])}"
                   + (f" | désactivé : {r['disabled_reason']}" if r["disabled_at"] else ""))
    click.echo(f"{len(rows)} compte(s).")


@users.command("list")
@click.option("--organisation", "organisation_name")
@click.option("--statut", "status",
              type=click.Choice(["actif", "désactivé", "à désactiver", "mot de passe à renouveler"]))
def users_list(organisation_name, status):
    """Liste les comptes (par organisation, par statut)."""
    from auth.register import find_users
    with _conn() as conn:
        _print_users(find_users(conn, organisation_name=organisation_name, status=status))


@users.command("search")
@click.argument("text")
def users_search(text):
    """Cherche un compte par identifiant, nom ou adresse e-mail."""
    from auth.register import find_users
    with _conn() as conn:
        _print_users(find_users(conn, text=text))


@users.command("review")
@click.option("--apply", "apply_", is_flag=True, help="Appliquer (après confirmation).")
@click.option("--yes", is_flag=True, help="Ne pas demander de confirmation.")
@click.option("--mots-de-passe", "passwords_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier des nouveaux mots de passe (défaut : revue-AAAA-MM-JJ.csv).")
def users_review(apply_, yes, passwords_out):
    """Revue annuelle : comptes à désactiver, mots de passe à renouveler."""
    from auth.audit import RETENTION_MONTHS, purge
    from auth.register import REASONS, apply_review, review, write_password_file
    from portail.errors import UserError
    with _conn() as conn:
        plan = review(conn)
        click.echo(f"Comptes à désactiver : {len(plan.to_disable)}")
        for r in plan.to_disable:
            click.echo(f"  {r['login']:<24} {r['organisation'] or '—':<30} "
                       f"{REASONS[r['refusal']]} (dernière activité {_fmt(r['last_active_at'])})")
        click.echo(f"Mots de passe à renouveler : {len(plan.to_renew)}")
        for r in plan.to_renew:
            click.echo(f"  {r['login']:<24} {r['organisation'] or '—':<30} "
                       f"mot de passe du {_fmt(r['password_changed_at'])}")
        if not apply_:
            click.echo("Rien n'a été modifié (ajoutez --apply pour appliquer).")
            return
        if not plan.to_disable and not plan.to_renew:
            click.echo("Rien à faire.")
        else:
            out = passwords_out or Path(f"revue-{date.today():%Y-%m-%d}.csv")
            if plan.to_renew and out.exists():
                raise UserError(f"{out} existe déjà : choisissez un autre fichier "
                                "(--mots-de-passe).")
            if not yes:
                click.confirm("Appliquer la revue ?", abort=True)
            renewed = apply_review(conn, plan)
            if renewed:
                write_password_file(out, renewed)
                click.echo(f"Nouveaux mots de passe à transmettre : {out} (mode 0600).")
            click.echo(f"{len(plan.to_disable)} compte(s) désactivé(s), "
                       f"{len(renewed)} mot(s) de passe renouvelé(s).")
        purged = purge(conn)
        conn.commit()
        click.echo(f"Journal d'accès : {purged} ligne(s) de plus de {RETENTION_MONTHS} mois "
                   "supprimée(s).")


# -- audit log ------------------------------------------------------------------------------------
@click.group()
def audit():
    """Journal des accès (conservé 12 mois)."""


@audit.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier CSV (défaut : sortie standard).")
@click.option("--depuis", "since", callback=_date, help="Depuis cette date (AAAA-MM-JJ).")
@click.option("--jusqu-au", "until", callback=_date, help="Jusqu'à cette date incluse.")
@click.option("--identifiant", "login", help="Un seul compte.")
def audit_export(output, since, until, login):
    """Exporte le journal des accès en CSV (séparateur ;)."""
    from auth.audit import export_csv, write_export
    with _conn() as conn:
        if output:
            n = write_export(conn, output, since=since, until=until, login=login)
            click.echo(f"{n} ligne(s) écrite(s) dans {output}.")
        else:
            export_csv(conn, sys.stdout, since=since, until=until, login=login)


@audit.command("purge")
@click.option("--yes", is_flag=True, help="Ne pas demander de confirmation.")
def audit_purge(yes):
    """Supprime les lignes du journal plus anciennes que la durée de conservation."""
    from auth.audit import RETENTION_MONTHS, purge
    if not yes:
        click.confirm(f"Supprimer les accès de plus de {RETENTION_MONTHS} mois ?", abort=True)
    with _conn() as conn:
        n = purge(conn)
    click.echo(f"{n} ligne(s) supprimée(s).")
