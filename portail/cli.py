"""`portail-lls`: the command line of the portal, one group per verb family."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from portail.errors import UserError
from portail.settings import REPO_ROOT, Settings, get_settings

DEMO_LOGIN = "demo"
REFERENCE_COMMUNES = REPO_ROOT / "data" / "reference" / "mel_communes.geojson"


class PortailGroup(click.Group):
    """Prints a UserError as a message with what to do, never as a traceback."""

    def invoke(self, ctx):
        try:
            try:
                return super().invoke(ctx)
            except Exception as exc:  # noqa: BLE001 - only database states are translated
                database_error = database_state_error(exc)
                if database_error is None:
                    raise
                raise database_error from None
        except UserError as exc:
            click.secho(f"Erreur : {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"→ {exc.hint}", err=True)
            ctx.exit(1)


def database_state_error(exc: BaseException) -> UserError | None:
    """A database that refuses writes or has no space left, as a message for the operator.

    The failing transaction has been rolled back: nothing of the load is kept and
    the published data are those of before.
    """
    import psycopg
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return UserError("La base de données est en lecture seule (serveur de secours, ou "
                         "default_transaction_read_only) : rien n'a été écrit, les données "
                         "publiées restent celles d'avant.",
                         hint="Relancez la commande sur le serveur principal, ou une fois la "
                              "base de nouveau inscriptible.")
    if isinstance(exc, (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory)) or (
            isinstance(exc, OSError) and exc.errno == 28):
        return UserError("Il n'y a plus de place sur le disque (base de données ou dossier "
                         "temporaire) : rien n'a été écrit, les données publiées restent "
                         "celles d'avant.",
                         hint="Libérez de la place (df -h ; journaux, anciennes sauvegardes), "
                              "puis relancez la même commande.")
    if isinstance(exc, psycopg.OperationalError):
        return UserError("La base de données ne répond pas : rien n'a été écrit.",
                         hint="Vérifiez qu'elle tourne (docker compose ps / portail-lls db "
                              "start), puis relancez la commande.")
    return None


@click.group(cls=PortailGroup)
def main():
    """Portail cartographique des logements locatifs sociaux de la MEL."""


# -- database -------------------------------------------------------------------
@main.group()
def db():
    """Base de données : cluster local, migrations."""


def _local_cluster(settings: Settings):
    from portail.cluster import LocalCluster
    if not settings.uses_local_cluster:
        raise UserError("DATABASE_URL est défini : le cluster local n'est pas utilisé.",
                        hint="Retirez DATABASE_URL pour gérer le cluster du projet.")
    return LocalCluster(settings.cluster_dir)


def ensure_database(settings: Settings, verbose: bool = True) -> None:
    """Local cluster up (created on first use) and schema at the latest migration."""
    from portail.migrate import migrate
    if settings.uses_local_cluster:
        cluster = _local_cluster(settings)
        if not cluster.exists():
            click.echo(f"Création du cluster PostgreSQL local dans {cluster.root} …")
            cluster.init()
        cluster.start()
        if verbose:
            click.echo(f"Cluster local démarré (127.0.0.1:{cluster.port}).")
    applied = migrate(settings, verbose=verbose)
    if verbose and not applied:
        click.echo("Schéma à jour.")


@db.command("start")
def db_start():
    """Crée si besoin et démarre le cluster local, puis applique les migrations."""
    ensure_database(get_settings())


@db.command("stop")
def db_stop():
    """Arrête le cluster local (les données sont conservées)."""
    _local_cluster(get_settings()).stop()
    click.echo("Cluster local arrêté.")


@db.command("status")
def db_status():
    """Dit où est la base et si elle répond."""
    settings = get_settings()
    if settings.uses_local_cluster:
        cluster = _local_cluster(settings)
        if not cluster.exists():
            click.echo(f"Cluster local : non initialisé ({cluster.root}).")
            return
        state = "démarré" if cluster.is_running() else "arrêté"
        click.echo(f"Cluster local : {state}, 127.0.0.1:{cluster.port}, dossier {cluster.root}")
    else:
        from portail.settings import redact
        click.echo(f"Base externe : {redact(settings.database_url)}")


@db.command("reset")
@click.option("--yes", is_flag=True, help="Ne pas demander de confirmation.")
def db_reset(yes):
    """Supprime le cluster local et toutes ses données, puis le recrée vide."""
    settings = get_settings()
    cluster = _local_cluster(settings)
    if not yes:
        click.confirm(f"Supprimer {cluster.root} et toutes les données chargées ?", abort=True)
    from portail import server
    server.stop(settings, quiet=True)
    cluster.remove()
    ensure_database(settings)


@db.command("migrate")
def db_migrate():
    """Applique les migrations en attente (sans effet si le schéma est à jour)."""
    from portail.migrate import migrate
    applied = migrate(get_settings())
    views = [a for a in applied if a.startswith("vue ")]
    click.echo(f"{len(applied) - len(views)} migration(s) appliquée(s), "
               f"{len(views)} vue(s) reconstruite(s).")


# -- server ---------------------------------------------------------------------------
@main.group()
def server():
    """Serveur web du portail (gunicorn)."""


@server.command("start")
@click.option("--port", type=int, default=None, help="Port HTTP (défaut : PORT ou 5000).")
@click.option("--foreground", is_flag=True, help="Rester au premier plan (conteneurs).")
def server_start(port, foreground):
    """Démarre (ou redémarre) le portail en arrière-plan."""
    from portail import server as srv
    settings = _with_port(port)
    srv.start(settings, foreground=foreground)
    click.echo(f"Portail servi sur {settings.public_url}")


@server.command("stop")
def server_stop():
    """Arrête le portail (et son worker)."""
    from portail import server as srv
    srv.stop(get_settings())


@server.command("status")
def server_status():
    """Dit si le portail tourne."""
    from portail import server as srv
    settings = get_settings()
    pid = srv.running_pid(settings)
    click.echo(f"Portail : {'en marche (pid %d), %s' % (pid, settings.public_url) if pid else 'arrêté'}")
    from processes.jobs.worker import background_pid
    worker_pid = background_pid(settings)
    click.echo(f"Worker   : {'en marche (pid %d)' % worker_pid if worker_pid else 'arrêté'}")


def _with_port(port: int | None) -> Settings:
    if port is not None:
        os.environ["PORT"] = str(port)
        get_settings.cache_clear()
    return get_settings()


# -- configuration ----------------------------------------------------------------------
@main.group()
def config():
    """Configuration pygeoapi."""


@config.command("validate")
def config_validate():
    """Valide pygeoapi-config.yml contre le schéma de pygeoapi."""
    from portail.pygeoapi_config import validate_config_file
    validate_config_file(get_settings().pygeoapi_config)
    click.echo(f"{get_settings().pygeoapi_config} : configuration valide.")


@config.command("generate")
@click.option("--check", is_flag=True,
              help="Ne rien écrire ; échouer si le fichier diffère du dictionnaire.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fichier à écrire (défaut : pygeoapi-config.yml du dépôt).")
def config_generate(check, output):
    """Génère pygeoapi-config.yml depuis le dictionnaire de données (data_dictionary/)."""
    from data_dictionary.model import load_dictionary
    from data_dictionary.pygeoapi import render_config, write_config
    from portail.pygeoapi_config import validate_config_file
    target = output or REPO_ROOT / "pygeoapi-config.yml"
    dic = load_dictionary()
    if check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != render_config(dic):
            raise UserError(f"{target} n'est plus à jour avec le dictionnaire de données.",
                            hint="Lancez : portail-lls config generate")
        click.echo(f"{target} : à jour avec le dictionnaire ({len(dic.layers)} collection(s)).")
        return
    changed = write_config(target, dic)
    validate_config_file(target)
    click.echo(f"{target} : {'régénéré' if changed else 'inchangé'} "
               f"({len(dic.layers)} collection(s)). Redémarrez le serveur pour l'appliquer.")


@config.command("dictionary")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "xlsx"]), default="md",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def config_dictionary(fmt, output):
    """Écrit le dictionnaire de données (document remis aux nouveaux comptes)."""
    from data_dictionary import render
    if fmt == "xlsx":
        output.write_bytes(render.to_xlsx())
    else:
        text = render.to_html(base=get_settings().public_url) if fmt == "html" \
            else render.to_markdown()
        output.write_text(text, encoding="utf-8")
    click.echo(f"Dictionnaire écrit dans {output}.")


# -- demo -----------------------------------------------------------------------------------
@main.command()
@click.option("--port", type=int, default=None, help="Port HTTP (défaut : PORT ou 5000).")
def demo(port):
    """Tout en une commande : base, schéma, données de démonstration, compte, serveur."""
    from auth.accounts import set_account
    from portail import server as srv
    from portail.demo import demo_password, published_communes

    settings = _with_port(port)
    ensure_database(settings)
    from etl.demo import DEMO_SEED, build_demo, demo_loaded
    if published_communes(settings) == 0:
        from etl.communes import load_communes
        click.echo("Chargement des communes de référence …")
        summary = load_communes(settings.owner_dsn(), REFERENCE_COMMUNES, 2026)
        click.echo(f"  {summary.rows_loaded} communes chargées en {summary.seconds:.1f} s.")
    version = demo_loaded(settings.owner_dsn())
    if version:
        click.echo(f"Données de démonstration déjà chargées (version des données {version}).")
    else:
        click.echo("Construction du jeu de démonstration FICTIF (une minute environ) …")
        build_demo(settings.owner_dsn(), settings.state_dir / "demo-data", seed=DEMO_SEED,
                   echo=lambda line: click.echo("  " + line.splitlines()[0]))
    password = demo_password(settings)
    # The demo account belongs to a demo organisation recorded as a signatory.
    set_account(settings.owner_dsn(), DEMO_LOGIN, password)
    click.echo("Démarrage du serveur …")
    srv.start(settings)
    url = settings.public_url
    click.echo("")
    click.secho("Le portail est en service.", fg="green", bold=True)
    click.echo(f"  URL          : {url}")
    click.echo(f"  Identifiant  : {DEMO_LOGIN}")
    click.echo(f"  Mot de passe : {password}")
    click.echo(f"  Carte        : {url}/carte")
    click.echo(f"  Essai        : curl -u {DEMO_LOGIN}:{password} '{url}/collections/communes/items?limit=100&f=json'")
    click.echo("  QGIS         : Couche > Ajouter une couche > WFS / OGC API - Features, "
               f"URL {url}, authentification de base")
    click.echo("  Arrêter      : .venv/bin/portail-lls server stop   (base : .venv/bin/portail-lls db stop)")


# Verb families that live with their package.
from auth.cli import audit, orgs, users  # noqa: E402
from etl.cli import etl  # noqa: E402
from processes.jobs.cli import jobs, worker  # noqa: E402

main.add_command(etl)
main.add_command(users)
main.add_command(orgs)
main.add_command(audit)
main.add_command(worker)
main.add_command(jobs)


@audit.command("secret")
@click.option("--sans-canaux", "no_channels", is_flag=True,
              help="Ne pas rejouer la carte, les fiches et les exports (plus rapide).")
def audit_secret(no_channels):
    """Attaque les données publiées comme un analyste : sort en erreur à la moindre fuite.

    Vérifie le seuil, les blancs, les différences entre échelles, thèmes, millésimes et
    fenêtres de 3 ans, les intervalles (programmation linéaire), la règle de dominance des
    attributions, le diagnostic des quartiers, puis rejoue chaque canal (carte, fiches,
    exports) contre les vues publiées. Affiche le bilan des pertes de la publication."""
    from portail.db import connect
    from portail.secret.audit import audit as run_audit
    from portail.secret.report import format_report, read_report
    settings = get_settings()
    report = run_audit(settings.owner_dsn(), settings.service_dsn())
    for offence in report.offences:
        click.echo(f"FUITE {offence}")
    channels = []
    if not no_channels:
        from portail.secret_channels import audit_channels
        channels = audit_channels(settings.service_dsn())
        for offence in channels:
            click.echo(f"CANAL {offence}")
    with connect(settings.owner_dsn()) as conn:
        version, rows = read_report(conn)
    if rows:
        click.echo(f"Bilan des pertes de la publication {version} (réservé à l'administrateur) :")
        for line in format_report(rows):
            click.echo(f"  {line}")
    if not report.ok or channels:
        click.secho(f"{len(report.offences)} fuite(s) sur {report.checked} chiffres publiés "
                    f"examinés, {len(channels)} écart(s) dans les canaux.", fg="red", err=True)
        sys.exit(1)
    what = "" if no_channels else " ; carte, fiches et exports conformes aux vues publiées"
    click.secho(f"Aucune fuite : {report.checked} chiffres publiés examinés (seuil, blancs, "
                "différences entre échelles, thèmes, millésimes et fenêtres de 3 ans, "
                f"intervalles, dominance){what}.", fg="green")


if __name__ == "__main__":
    main()
