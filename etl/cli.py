"""`portail-lls etl …`: load source files (one verb per source), purge, status, demo."""
from __future__ import annotations

from pathlib import Path

import click

from etl.registry import SOURCES, loader
from portail.settings import get_settings


@click.group()
def etl():
    """Chargement des fichiers sources (millésimes)."""


@etl.group("load")
def etl_load():
    """Charge un fichier source : etl load SOURCE FICHIER --millesime AAAA."""


@etl_load.command("communes")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--millesime", type=int, default=2026, show_default=True,
              help="Millésime du COG du fichier.")
@click.option("--crs", default=None, help="CRS du fichier s'il ne le déclare pas (ex. EPSG:2154).")
def etl_load_communes(path, millesime, crs):
    """Communes (GeoJSON, GeoPackage, Shapefile) : remplace les communes publiées."""
    from etl.communes import load_communes
    summary = load_communes(get_settings().owner_dsn(), path, millesime, crs)
    click.echo(f"{summary.rows_loaded} communes chargées depuis {path} en {summary.seconds:.1f} s "
               f"(version des données : {summary.data_version}).")
    click.echo(f"  disposition reconnue : {summary.layout}")
    if summary.rows_outside:
        click.echo(f"  {summary.rows_outside} commune(s) hors de la MEL ignorée(s) (fichier national)")


def _make_command(name: str, help_text: str, takes_encoding: bool, takes_crs: bool):
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--millesime", type=int, required=True, help="Millésime chargé (année).")
    @click.option("--max-rejects", type=float, default=0.0, show_default=True,
                  help="Part de lignes rejetées acceptée (0.01 = 1 %) ; au-delà rien n'est chargé.")
    @click.option("--force", is_flag=True, help="Recharger même si ce fichier est déjà chargé.")
    @click.option("--sans-publier", "later", is_flag=True,
                  help="Charger sans publier (livraison de plusieurs fichiers) : les données "
                       "publiées ne changent qu'au prochain « portail-lls etl publish ».")
    def command(path, millesime, max_rejects, force, later, encoding=None, crs=None):
        from contextlib import nullcontext

        from etl.publish import publication_left_to_later
        kwargs = dict(max_rejects=max_rejects, force=force)
        if takes_encoding:
            kwargs["encoding"] = encoding
        if takes_crs:
            kwargs["source_crs"] = crs
        with publication_left_to_later() if later else nullcontext():
            summary = loader(name)(get_settings().owner_dsn(), path, millesime, **kwargs)
        click.echo(summary.text())
        if later:
            click.echo("  non publié : les partenaires voient la publication précédente ; "
                       "lancez « portail-lls etl publish » après le dernier fichier.")
    if takes_encoding:
        command = click.option("--encoding", default=None,
                               help="Encodage (défaut : UTF-8, sinon CP1252 détecté).")(command)
    if takes_crs:
        command = click.option("--crs", default=None,
                               help="Système de coordonnées du fichier (ex. EPSG:2154, EPSG:4326).")(command)
    return click.command(name, help=help_text)(command)


for _name, (_m, _f, _help, _enc, _crs) in SOURCES.items():
    etl_load.add_command(_make_command(_name, _help, _enc, _crs))


@etl.command("purge")
@click.option("--dry-run/--execute", default=True, show_default=True,
              help="Par défaut, dit seulement ce qui serait supprimé.")
def etl_purge(dry_run):
    """Supprime les millésimes au-delà de la durée de conservation (12 ans)."""
    from etl.loading import RETENTION_YEARS
    from etl.publish import publish
    from etl.retention import oldest_kept, purge
    from portail.db import connect
    with connect(get_settings().owner_dsn()) as conn, conn.transaction():
        out = purge(conn, dry_run=dry_run)
        if out and not dry_run:
            publish(conn, f"purge des millésimes antérieurs à {oldest_kept()}")
    verb = "serait purgé" if dry_run else "purgé"
    if not out:
        click.echo(f"Rien à purger : tout est postérieur ou égal à {oldest_kept()} "
                   f"(conservation {RETENTION_YEARS} ans).")
    for table, m, n in out:
        click.echo(f"{verb} : {table} {m} ({n} lignes)")


@etl.command("publish")
def etl_publish():
    """Republie tout : recalcule le secret statistique, audite, puis met en ligne.

    À lancer après une mise à jour du logiciel qui change les règles du secret ou les
    vues publiées. Rien ne change pour les partenaires si l'audit trouve une fuite."""
    import time

    from etl.publish import last_times, publish
    from portail.db import connect
    from portail.secret.report import format_report, read_report
    started = time.monotonic()
    click.echo("Publication (secret statistique, vues candidates, audit) …")
    with connect(get_settings().owner_dsn()) as conn:
        with conn.transaction():
            version = publish(conn, "republication")
        _, rows = read_report(conn, version)
    click.echo(f"Publié : version des données {version}, en {time.monotonic() - started:.1f} s "
               f"({', '.join(f'{k} {v:.1f} s' for k, v in last_times.phases.items() if ':' not in k)}).")
    for line in format_report(rows):
        click.echo(f"  {line}")


@etl.command("status")
def etl_status():
    """Ce qui est chargé, par source et millésime, avec les effectifs."""
    from etl.retention import status
    from portail.db import connect
    with connect(get_settings().owner_dsn()) as conn:
        rows = status(conn)
    if not rows:
        click.echo("Aucune source chargée.")
    for r in rows:
        tag = " [fictif]" if r["fictif"] else ""
        outside = f", hors territoire {r['rows_outside']}" if r["rows_outside"] else ""
        click.echo(f"{r['source']:<16} {r['millesime']}  {r['rows_present'] if r['rows_present'] is not None else '-':>8} "
                   f"lignes  (lues {r['rows_read']}{outside}, rejetées {r['rows_rejected']})  {r['fichier']}  "
                   f"{r['loaded_at']:%Y-%m-%d %H:%M}{tag}")
        if r["disposition"]:
            click.echo(f"{'':<22}disposition {r['disposition']}"
                       + (f" ; non renseigné : {', '.join(r['absent'])}" if r["absent"] else ""))


@etl.command("demo")
@click.option("--seed", type=int, default=1, show_default=True, help="Graine du générateur.")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Facteur de taille (1 = ~130 000 logements).")
@click.option("--millesimes", default=None, help="Millésimes, ex. 2022,2023,2024 (défaut : les 3 derniers).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Dossier des fichiers générés (défaut : <état>/demo-data).")
@click.option("--no-load", is_flag=True, help="Générer les fichiers sans les charger.")
def etl_demo(seed, scale, millesimes, out_dir, no_load):
    """Génère un jeu de démonstration FICTIF aux formats réels, puis le charge."""
    from etl.demo import build_demo
    settings = get_settings()
    years = [int(y) for y in millesimes.split(",")] if millesimes else None
    out_dir = out_dir or settings.state_dir / "demo-data"
    build_demo(settings.owner_dsn(), out_dir, seed=seed, scale=scale, millesimes=years,
               load=not no_load, echo=click.echo)
