"""`portail-lls users …`: the account register, for the administrator."""
from __future__ import annotations

import sys

import click

from portail.settings import get_settings


@click.group()
def users():
    """Comptes des utilisateurs."""


@users.command("add")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard.")
def users_add(login, password_stdin):
    """Crée un compte (ou change son mot de passe) ; le mot de passe est affiché une fois."""
    from auth.accounts import set_account
    from auth.passwords import generate_password
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    created = set_account(get_settings().owner_dsn(), login, password)
    click.echo(f"Compte {login} {'créé' if created else 'mis à jour'}.")
    if not password_stdin:
        click.echo(f"Mot de passe (affiché une seule fois) : {password}")
