"""Communes (COG): GeoJSON, GeoPackage or Shapefile, into ``core.commune``.

Accepts the attribute names of the project's reference file
(``code_insee``, ``nom``…) and those of IGN ADMIN EXPRESS (``INSEE_COM``,
``NOM``, ``POPULATION``, ``SIREN_EPCI``). The whole file is checked first; a
single bad feature rejects the file and the published communes stay as they were.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import MultiPolygon, Polygon

from etl.errors import Rejection, SourceFileError
from etl.publish import publish
from portail.db import connect

# Our column -> accepted source names, first match wins.
COLUMNS = {
    "code_insee": ("code_insee", "INSEE_COM", "insee_com", "code"),
    "nom": ("nom", "NOM", "NOM_COM", "nom_com"),
    "siren": ("siren_commune", "SIREN", "siren"),
    "code_epci": ("code_epci", "SIREN_EPCI", "siren_epci"),
    "population_municipale": ("population_municipale", "POPULATION", "population"),
    "population_totale": ("population_totale",),
    "codes_postaux": ("codes_postaux", "code_postal", "CODE_POST"),
}
REQUIRED = ("code_insee", "nom")
CODE_INSEE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
STORAGE_EPSG = 2154


@dataclass(frozen=True)
class LoadSummary:
    rows_read: int
    rows_loaded: int
    seconds: float
    data_version: int


def _pick(columns, names):
    for name in names:
        if name in columns:
            return name
    return None


def read_communes(path: Path, source_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read and check the file; return rows ready for ``core.commune`` (EPSG:2154)."""
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    try:
        gdf = gpd.read_file(path, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise SourceFileError(path, f"illisible comme fichier géographique ({exc})") from None
    if gdf.empty:
        raise SourceFileError(path, "le fichier ne contient aucune commune")

    mapping = {ours: _pick(gdf.columns, names) for ours, names in COLUMNS.items()}
    missing = [c for c in REQUIRED if mapping[c] is None]
    if missing:
        raise SourceFileError(path, [Rejection("en-tête", c, "colonne absente (attendue : "
                                               + " ou ".join(COLUMNS[c]) + ")") for c in missing])

    if gdf.crs is None:
        if not source_crs:
            raise SourceFileError(path, "système de coordonnées non déclaré",
                                  hint="Indiquez-le avec --crs EPSG:2154 (ou celui du fichier).")
        gdf = gdf.set_crs(source_crs)
    elif source_crs and gdf.crs != source_crs:
        gdf = gdf.set_crs(source_crs, allow_override=True)

    problems: list[Rejection] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(gdf.itertuples(index=False), start=1):
        where = f"entité {i}"
        code = str(getattr(row, mapping["code_insee"]) or "").strip()
        if not CODE_INSEE.match(code):
            problems.append(Rejection(where, mapping["code_insee"], f"code INSEE invalide {code!r}"))
        elif code in seen:
            problems.append(Rejection(where, mapping["code_insee"],
                                      f"code {code} déjà vu à l'entité {seen[code]}"))
        else:
            seen[code] = i
        if not str(getattr(row, mapping["nom"]) or "").strip():
            problems.append(Rejection(where, mapping["nom"], "nom vide"))
        geom = row.geometry
        if geom is None or geom.is_empty:
            problems.append(Rejection(where, "geometry", "géométrie absente"))
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(Rejection(where, "geometry", f"{geom.geom_type} au lieu d'un polygone"))
    if problems:
        raise SourceFileError(path, problems)

    gdf = gdf.to_crs(epsg=STORAGE_EPSG)
    out = gpd.GeoDataFrame(
        {ours: (gdf[src] if src else None) for ours, src in mapping.items()},
        geometry=[_as_multipolygon(g) for g in gdf.geometry], crs=gdf.crs)
    out["code_insee"] = out["code_insee"].astype(str).str.strip()
    return out


def _as_multipolygon(geom) -> MultiPolygon:
    geom = shapely.make_valid(geom)
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, (Polygon, MultiPolygon))]
    parts = []
    for p in polys:
        parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(parts)


def _int_or_none(value):
    if value is None or value != value:  # None or NaN
        return None
    return int(value)


def load_communes(owner_dsn: str, path: Path, millesime_cog: int,
                  source_crs: str | None = None, source_label: str | None = None) -> LoadSummary:
    """Replace the communes with the file's, in one transaction, and republish."""
    started = time.monotonic()
    gdf = read_communes(path, source_crs)
    label = source_label or Path(path).name
    with connect(owner_dsn) as conn:
        with conn.transaction():
            conn.execute("""CREATE TEMP TABLE commune_stage
                            (LIKE core.commune INCLUDING DEFAULTS) ON COMMIT DROP""")
            with conn.cursor().copy(
                    "COPY commune_stage (code_insee, nom, siren, code_epci, population_municipale,"
                    " population_totale, codes_postaux, millesime_cog, source, geom)"
                    " FROM STDIN") as copy:
                for row, geom in zip(gdf.itertuples(index=False), gdf.geometry):
                    copy.write_row((
                        row.code_insee, str(row.nom).strip(),
                        None if row.siren is None else str(row.siren),
                        None if row.code_epci is None else str(row.code_epci),
                        _int_or_none(row.population_municipale),
                        _int_or_none(row.population_totale),
                        None if row.codes_postaux is None else str(row.codes_postaux),
                        millesime_cog, label,
                        shapely.to_wkb(shapely.set_srid(geom, STORAGE_EPSG), hex=True, include_srid=True),
                    ))
            conn.execute("DELETE FROM core.commune")
            conn.execute("INSERT INTO core.commune SELECT * FROM commune_stage")
            version = publish(conn, f"communes {label} (COG {millesime_cog})")
    return LoadSummary(len(gdf), len(gdf), time.monotonic() - started, version)
