"""Reading polygon files (GeoPackage, Shapefile, GeoJSON): CRS, validity, Lambert-93."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from shapely.geometry import MultiPolygon, Polygon

from etl.errors import Rejection, SourceFileError

STORAGE_EPSG = 2154


def read_geofile(path: Path, source_crs: str | None = None, layer: str | None = None,
                 layers: tuple[str, ...] = (), allow_table: bool = False, prefer: tuple[str, ...] = (),
                 bbox_2154: tuple[float, float, float, float] | None = None,
                 what: str = "aucune entité"):
    """Read a vector file as users get it (GeoPackage with several layers, shapefile,
    GeoJSON, or any of them in a ZIP archive); the CRS is the file's, or the declared one;
    never guessed silently.

    ``layers``: the layer names to pick, in order, when the file has several (refused with
    the list of its layers when none is there). ``allow_table``: a file without geometry
    (a CSV) is returned as a plain DataFrame instead of being refused. ``bbox_2154``: read
    only the features intersecting this box (Lambert-93), for national files.
    """
    from etl.files import geo_path
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    if path.is_file() and path.stat().st_size == 0:
        raise SourceFileError(path, [Rejection("entité 1", None, "fichier vide")])
    where = geo_path(path, prefer)
    try:
        available = [str(n) for n, _ in pyogrio.list_layers(where)]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise SourceFileError(path, f"illisible comme fichier géographique ({exc})") from None
    if layer is None and len(available) > 1:
        upper = {n.upper(): n for n in available}
        layer = next((upper[w.upper()] for w in layers if w.upper() in upper), None)
        if layer is None:
            raise SourceFileError(path, [Rejection("couches", None, f"{len(available)} couches dans le fichier "
                                                   f"({', '.join(available)}) ; attendue : {' ou '.join(layers) or '?'}")],
                                  hint="Chargez le fichier publié, ou extrayez la couche voulue.")
    try:
        info = pyogrio.read_info(where, layer=layer)
        if info.get("geometry_type") is None:
            if not allow_table:
                raise SourceFileError(path, [Rejection("en-tête", None, "fichier sans géométrie (table sans "
                                                       "contours ni points)")],
                                      hint="Chargez le fichier géographique publié (GeoPackage, Shapefile, GeoJSON).")
            import pandas as pd
            frame = pyogrio.read_dataframe(where, layer=layer, read_geometry=False)
            return pd.DataFrame(frame)
        bbox = None
        if bbox_2154 is not None and (info.get("crs") or source_crs):
            from pyproj import Transformer
            t = Transformer.from_crs(2154, source_crs or info["crs"], always_xy=True)
            xs, ys = t.transform([bbox_2154[0], bbox_2154[2], bbox_2154[0], bbox_2154[2]],
                                 [bbox_2154[1], bbox_2154[1], bbox_2154[3], bbox_2154[3]])
            bbox = (min(xs), min(ys), max(xs), max(ys))
        gdf = gpd.read_file(where, engine="pyogrio", layer=layer, bbox=bbox, fid_as_index=True)
        # Entity numbers of the reports are the file's (from 1), also when a box skipped some.
        if info.get("driver") != "GPKG":
            gdf.index = gdf.index + 1
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise SourceFileError(path, f"illisible comme fichier géographique ({exc})") from None
    if gdf.empty and bbox is None:
        raise SourceFileError(path, [Rejection("entité 1", None, f"le fichier ne contient {what}")])
    if source_crs:
        gdf = gdf.set_crs(source_crs, allow_override=True)
    elif gdf.crs is None:
        raise SourceFileError(path, "système de coordonnées non déclaré",
                              hint="Indiquez-le avec --crs EPSG:2154 (ou celui du fichier).")
    gdf.attrs["features"] = int(info.get("features") or len(gdf))   # in the layer, inside the box or not
    gdf.attrs["layer"] = layer or (available[0] if available else None)
    gdf.attrs["layers"] = available
    return gdf


def territory_bbox(owner_dsn: str, margin: float = 1000.0) -> tuple[float, float, float, float] | None:
    """The territory's bounding box in Lambert-93 (with a margin), or None before any commune."""
    from portail.db import connect
    with connect(owner_dsn) as conn:
        row = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                           "(SELECT ST_Extent(geom) e FROM core.commune) t").fetchone()
    if row is None or row[0] is None:
        return None
    return row[0] - margin, row[1] - margin, row[2] + margin, row[3] + margin


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
    for i, geom in zip(entities(gdf), projected):
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


def entities(gdf) -> list[int]:
    """The file's entity numbers (from 1) of the rows of ``gdf`` read by :func:`read_geofile`."""
    import pandas as pd
    if pd.api.types.is_integer_dtype(gdf.index):
        return [int(i) for i in gdf.index]
    return list(range(1, len(gdf) + 1))


def as_multipolygon(geom) -> MultiPolygon:
    polys = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, (Polygon, MultiPolygon))]
    parts = []
    for p in polys:
        parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(parts)


def ewkb(geom) -> str:
    return shapely.to_wkb(shapely.set_srid(geom, STORAGE_EPSG), hex=True, include_srid=True)
