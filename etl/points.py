"""Coordinate reference system of point files: declared, named by the columns, or recognised."""
from __future__ import annotations

from pathlib import Path

from pyproj import CRS
from pyproj.exceptions import CRSError

from etl.errors import SourceFileError

DEGREE_COLUMNS = {"LONGITUDE", "LATITUDE", "LON", "LAT", "STOP_LON", "STOP_LAT"}
LAMBERT93_COLUMNS = {"LAMBERT_X", "LAMBERT_Y", "COORDXET", "COORDYET"}


def srid_of(path, declared: str) -> int:
    try:
        epsg = CRS.from_user_input(declared).to_epsg()
    except CRSError:
        epsg = None
    if not epsg:
        raise SourceFileError(path, f"système de coordonnées {declared!r} inconnu",
                              hint="Donnez un code EPSG, ex. --crs EPSG:2154 ou --crs EPSG:4326.")
    return epsg


def detect_srid(path: Path, result, declared: str | None, x: str = "x", y: str = "y") -> int:
    """EPSG code of the x/y columns: declared > column names > value ranges (refused if unclear).

    A wrong guess is not silent: points that fall outside the territory are rejected
    line by line at load.
    """
    if declared:
        return srid_of(path, declared)
    if result.columns.get("epsg"):
        return 2154   # each row gives its EPSG; a row without one is in Lambert-93 (metropolitan France)
    names = {str(result.columns.get(x) or "").upper(), str(result.columns.get(y) or "").upper()}
    if names & DEGREE_COLUMNS:
        return 4326
    if names & LAMBERT93_COLUMNS:
        return 2154
    xi, yi = _positions(result, x, y)
    xs = [r[xi] for r in result.rows[:1000] if r[xi] is not None]
    ys = [r[yi] for r in result.rows[:1000] if r[yi] is not None]
    if xs and all(-180 <= v <= 180 for v in xs) and all(-90 <= v <= 90 for v in ys):
        return 4326
    if xs and all(0 <= v <= 1_300_000 for v in xs) and all(6_000_000 <= v <= 7_200_000 for v in ys):
        return 2154
    raise SourceFileError(path, "système de coordonnées non reconnu d'après les valeurs de "
                                f"{result.columns.get(x)}/{result.columns.get(y)}",
                          hint="Déclarez-le avec --crs (ex. EPSG:2154, EPSG:4326, EPSG:3857).")


def _positions(result, x: str, y: str) -> tuple[int, int]:
    names = list(result.columns)
    return names.index(x) + 1, names.index(y) + 1
