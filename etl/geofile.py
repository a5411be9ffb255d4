"""Reading polygon files (GeoPackage, Shapefile, GeoJSON): CRS, validity, Lambert-93."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import MultiPolygon, Polygon

from etl.errors import Rejection, SourceFileError

STORAGE_EPSG = 2154


def read_geofile(path: Path, source_crs: str | None = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file; the CRS is the file's, or the declared one; never guessed silently."""
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    if path.stat().st_size == 0:
        raise SourceFileError(path, [Rejection("entité 1", None, "fichier vide")])
    try:
        gdf = gpd.read_file(path, engine="pyogrio", layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise SourceFileError(path, f"illisible comme fichier géographique ({exc})") from None
    if gdf.empty:
        raise SourceFileError(path, [Rejection("entité 1", None, "le fichier ne contient aucune entité")])
    if source_crs:
        gdf = gdf.set_crs(source_crs, allow_override=True)
    elif gdf.crs is None:
        raise SourceFileError(path, "système de coordonnées non déclaré",
                              hint="Indiquez-le avec --crs EPSG:2154 (ou celui du fichier).")
    return gdf


def pick(columns, names) -> str | None:
    upper = {c.upper(): c for c in columns}
    return next((upper[n.upper()] for n in names if n.upper() in upper), None)


def require_columns(path, gdf, mapping: dict[str, tuple[str, ...]], required) -> dict[str, str | None]:
    found = {ours: pick(gdf.columns, names) for ours, names in mapping.items()}
    missing = [Rejection("en-tête", mapping[c][0], "colonne absente (attendue : "
                         + " ou ".join(mapping[c]) + ")") for c in required if found[c] is None]
    if missing:
        raise SourceFileError(path, missing)
    return found


def checked_polygons(gdf: gpd.GeoDataFrame) -> tuple[list, list[Rejection], list[str]]:
    """Valid MultiPolygons in EPSG:2154 (None where rejected), rejections and repairs done."""
    projected = gdf.to_crs(epsg=STORAGE_EPSG).geometry
    out, rejections, warnings = [], [], []
    for i, geom in enumerate(projected, start=1):
        where = f"entité {i}"
        if geom is None or geom.is_empty:
            rejections.append(Rejection(where, "geometry", "géométrie absente"))
            out.append(None)
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            rejections.append(Rejection(where, "geometry", f"{geom.geom_type} au lieu d'un polygone"))
            out.append(None)
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            fixed = as_multipolygon(shapely.make_valid(geom))
            # A repair that keeps the surface is accepted; one that collapses it is not.
            before = sum(Polygon(p.exterior).area for p in getattr(geom, "geoms", [geom]))
            if fixed.is_empty or fixed.area < 0.99 * before or fixed.area <= 1.0:
                rejections.append(Rejection(where, "geometry",
                                            f"géométrie invalide, non réparable ({reason})"))
                out.append(None)
                continue
            warnings.append(f"{where} : géométrie réparée ({reason})")
            geom = fixed
        out.append(as_multipolygon(geom))
    return out, rejections, warnings


def as_multipolygon(geom) -> MultiPolygon:
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, (Polygon, MultiPolygon))]
    parts = []
    for p in polys:
        parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(parts)


def ewkb(geom) -> str:
    return shapely.to_wkb(shapely.set_srid(geom, STORAGE_EPSG), hex=True, include_srid=True)
