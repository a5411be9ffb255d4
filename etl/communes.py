"""Communes (COG): the territory itself, into ``core.commune``.

Every layout (see :data:`LAYOUTS`), detected from the columns: the project's reference
file (``code_insee``, ``nom``…), IGN ADMIN EXPRESS COG 3.x (``COMMUNE.shp``: ``INSEE_COM``,
``NOM``, ``POPULATION``, ``SIREN_EPCI``) and ADMIN EXPRESS COG CARTO 4.0 (a GeoPackage of
several layers, the ``commune`` one: ``code_insee``, ``nom_officiel``,
``codes_siren_des_epci``, geometry column ``geometrie``), in a ZIP archive or not. The
national files are cut to the MEL: the communes whose EPCI is the MEL (SIREN 200093201),
or, without an EPCI column, those already loaded or of the reference list; the others
are skipped and counted. The whole file is checked first; a single bad feature rejects
the file and the published communes stay as they were.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from etl.errors import Rejection, SourceFileError
from etl.geofile import entities, read_geofile
from etl.layouts import Layout, detect
from etl.publish import publish
from portail.db import connect

MEL_SIREN = "200093201"   # Métropole Européenne de Lille (DGCL list, data/reference/PROVENANCE.md)
REFERENCE_LIST = Path(__file__).resolve().parent.parent / "data" / "reference" / "mel_communes_epci_2026.csv"
REFERENCE_PERIMETER = REFERENCE_LIST.parent / "mel_perimetre.geojson"
FIELDS = ("code_insee", "nom", "siren", "code_epci", "population_municipale", "population_totale",
          "codes_postaux")
LAYOUTS: tuple[Layout, ...] = (
    Layout("admin-express-4", "IGN ADMIN EXPRESS COG CARTO 4.0 (GeoPackage, couche commune)",
           "IGN, ADMIN EXPRESS COG CARTO 4.0 (depuis 2025) : GeoPackage de plusieurs couches (commune, "
           "departement, epci…), code_insee, nom_officiel, codes_siren_des_epci, géométrie « geometrie » "
           "(../shared/docs/source-formats.md).",
           signature=("code_insee", "nom_officiel"),
           columns={"code_insee": ("code_insee",), "nom": ("nom_officiel",), "siren": ("code_siren",),
                    "code_epci": ("codes_siren_des_epci",), "population_municipale": ("population",),
                    "population_totale": (), "codes_postaux": ("codes_postaux",)},
           required=("code_insee", "nom"), area="national", millesimes="2025 et suivants"),
    Layout("admin-express-3", "IGN ADMIN EXPRESS COG 3.x (COMMUNE.shp)",
           "IGN, ADMIN EXPRESS COG 3.x (jusqu'en 2024) : COMMUNE.shp avec INSEE_COM, NOM, NOM_M, INSEE_DEP, "
           "INSEE_REG, SIREN_EPCI, POPULATION (../shared/docs/source-formats.md).",
           signature=("INSEE_COM", "NOM"),
           columns={"code_insee": ("INSEE_COM",), "nom": ("NOM", "NOM_COM"), "siren": (),
                    "code_epci": ("SIREN_EPCI",), "population_municipale": ("POPULATION",),
                    "population_totale": (), "codes_postaux": ("CODE_POST",)},
           required=("code_insee", "nom"), area="national", millesimes="2014 à 2024"),
    Layout("communes-reference", "Communes de référence du projet (GeoJSON)",
           "data/reference/mel_communes.geojson (PROVENANCE.md) : code_insee, nom, siren_commune, code_epci, "
           "populations, codes_postaux.",
           signature=("code_insee", "nom"),
           columns={"code_insee": ("code_insee", "insee_com", "code"), "nom": ("nom", "nom_com"),
                    "siren": ("siren_commune", "siren"), "code_epci": ("code_epci", "siren_epci"),
                    "population_municipale": ("population_municipale", "population"),
                    "population_totale": ("population_totale",), "codes_postaux": ("codes_postaux", "code_postal")},
           required=("code_insee", "nom"), area="territoire", millesimes="—"),
)
CODE_INSEE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
STORAGE_EPSG = 2154


@dataclass
class LoadSummary:
    rows_read: int
    rows_loaded: int
    seconds: float
    data_version: int
    rows_outside: int = 0
    layout: str | None = None
    notes: list[str] = field(default_factory=list)


def _pick(columns, names):
    for name in names:
        if name in columns:
            return name
    return None


def _reference_codes(owner_dsn: str | None) -> set[str]:
    if owner_dsn:
        with connect(owner_dsn) as conn:
            loaded = {r[0] for r in conn.execute("SELECT code_insee FROM core.commune").fetchall()}
        if loaded:
            return loaded
    import csv
    with open(REFERENCE_LIST, encoding="utf-8") as fh:
        return {r["code_insee"] for r in csv.DictReader(fh)}


def _perimeter_bbox() -> tuple[float, float, float, float]:
    g = gpd.read_file(REFERENCE_PERIMETER).to_crs(2154).total_bounds
    return g[0] - 5000, g[1] - 5000, g[2] + 5000, g[3] + 5000


def read_communes(path: Path, source_crs: str | None = None, owner_dsn: str | None = None) -> gpd.GeoDataFrame:
    """Read and check the file; return rows ready for ``core.commune`` (EPSG:2154); the
    layout and the communes skipped outside the MEL are in ``attrs``."""
    path = Path(path)
    gdf = read_geofile(path, source_crs, layers=("commune",), prefer=(r"^commune\.(shp|gpkg)$", r"commune"),
                       what="aucune commune",
                       bbox_2154=None if path.suffix.lower() == ".geojson" else _perimeter_bbox())
    detected = detect(path, [c for c in gdf.columns if c != "geometry"], LAYOUTS, "communes", "en-tête")
    layout, mapping = detected.layout, dict(detected.columns)
    outside = int(gdf.attrs.get("features", len(gdf))) - len(gdf)
    if layout.outside_skipped:
        epci = mapping.get("code_epci")
        if epci:
            mel = gdf[epci].astype(str).str.contains(MEL_SIREN, regex=False)
        else:
            mel = gdf[mapping["code_insee"]].astype(str).str.strip().isin(_reference_codes(owner_dsn))
        outside += int((~mel).sum())
        gdf = gdf[mel]
        if gdf.empty:
            raise SourceFileError(path, [Rejection("entité 1", mapping.get("code_epci") or mapping["code_insee"],
                                                   "aucune commune de la MEL dans le fichier")])
    problems: list[Rejection] = []
    seen: dict[str, int] = {}
    for i, row in zip(entities(gdf), gdf.itertuples(index=False)):
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
        {ours: (gdf[mapping[ours]] if mapping.get(ours) else None) for ours in FIELDS},
        geometry=[_as_multipolygon(g) for g in gdf.geometry], crs=gdf.crs)
    out["code_insee"] = out["code_insee"].astype(str).str.strip()
    if layout.outside_skipped and mapping.get("code_epci"):
        out["code_epci"] = MEL_SIREN   # "codes_siren_des_epci" may list several: the MEL's is the one kept
    out.attrs.update(layout=layout, outside=outside)
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
    from etl.loading import file_digest, record_load
    started = time.monotonic()
    gdf = read_communes(path, source_crs, owner_dsn)
    layout, outside = gdf.attrs["layout"], gdf.attrs["outside"]
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
                        _text(row.siren), _text(row.code_epci),
                        _int_or_none(row.population_municipale),
                        _int_or_none(row.population_totale),
                        _text(row.codes_postaux),
                        millesime_cog, label,
                        shapely.to_wkb(shapely.set_srid(geom, STORAGE_EPSG), hex=True, include_srid=True),
                    ))
            conn.execute("DELETE FROM core.commune")
            conn.execute("INSERT INTO core.commune SELECT * FROM commune_stage")
            record_load(conn, "communes", millesime_cog, label, file_digest(path), len(gdf) + outside,
                        len(gdf), 0, False, layout.key, outside, ())
            version = publish(conn, f"communes {label} (COG {millesime_cog})")
    return LoadSummary(len(gdf) + outside, len(gdf), time.monotonic() - started, version, outside, layout.label)


def _text(value) -> str | None:
    if value is None or value != value:
        return None
    return str(value)
