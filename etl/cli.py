"""`portail-lls etl …`: load source files (one verb per source)."""
from __future__ import annotations

from pathlib import Path

import click

from portail.settings import get_settings


@click.group()
def etl():
    """Chargement des fichiers sources (millésimes)."""


@etl.group("load")
def etl_load():
    """Charge un fichier source."""


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
