"""GeoPackage writer of an export: one layer per exported layer, with its geometry.

Each layer keeps the dictionary's field names (the view's columns) and the
geometry as published (``geom``, Lambert-93, EPSG:2154). A figure hidden by
secrecy is NULL in the file as in the API, never 0. The layer's identifier is
its French title; its description and the dataset's metadata carry the source
mention, the millésime and the export date. Written with pyogrio (GDAL) to a
temporary file by the caller.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from pyogrio.raw import write   # arrays straight to GDAL, no pandas round trip
from psycopg import sql
from pyproj import CRS

from portail.settings import SOURCE_MENTION
from processes.selection import LayerSelection
from diffusion.catalogue import SCHEMA

GEOMETRY_COLUMN = "geom"
STORAGE_EPSG = 2154
FETCH_ROWS = 2000
MIMETYPE = "application/geopackage+sqlite3"


def _select(sel: LayerSelection) -> tuple[sql.Composable, tuple]:
    """The export's SELECT plus the geometry, as WKB."""
    order = [sel.layer.time_field] if sel.layer.time_field else []
    order.append(sel.layer.id_field)
    stmt = sql.SQL("SELECT {cols}, ST_AsBinary({g}) FROM {view} WHERE {where} "
                   "ORDER BY {order}").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in sel.columns),
        g=sql.Identifier(GEOMETRY_COLUMN), view=sql.Identifier(SCHEMA, sel.layer.view),
        where=sel.where, order=sql.SQL(", ").join(sql.Identifier(c) for c in order))
    return stmt, sel.params


def _column(values: list, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """One field as a numpy array and its null mask (None: nulls carried by the array)."""
    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    if kind == "integer":
        return np.array([0 if v is None else v for v in values], dtype=np.int64), mask
    if kind == "number":
        return np.array([np.nan if v is None else float(v) for v in values],
                        dtype=np.float64), None
    if kind == "boolean":
        return np.array([bool(v) for v in values], dtype=bool), mask
    if kind == "date":
        return np.array([v.isoformat() if v is not None else None for v in values],
                        dtype=object), None
    return np.array(values, dtype=object), None


def write_gpkg(path: Path, selections: list[LayerSelection], conn, millesimes: str,
               exported: date) -> None:
    """Write every selection as a layer of the GeoPackage at ``path``."""
    crs = CRS.from_epsg(STORAGE_EPSG).to_wkt()
    stamp = f"{SOURCE_MENTION}. Millésime : {millesimes} — exporté le {exported:%d/%m/%Y}"
    for sel in selections:
        fields = [sel.layer.fields[c] for c in sel.columns]
        stmt, params = _select(sel)
        with conn.transaction(), conn.cursor(name="export_gpkg") as cur:
            cur.itersize = FETCH_ROWS
            rows = cur.execute(stmt, params).fetchall()
        columns = list(zip(*rows)) if rows else [() for _ in range(len(fields) + 1)]
        data, masks = [], []
        for field, values in zip(fields, columns):
            array, mask = _column(list(values), field.type)
            data.append(array)
            masks.append(mask)
        geometry = np.array([None if g is None else bytes(g) for g in columns[-1]],
                            dtype=object)
        write(str(path), geometry, data, [f.name for f in fields], field_mask=masks,
              layer=sel.layer.name, driver="GPKG", geometry_type=sel.layer.geometry, crs=crs,
              promote_to_multi=False, append=False,
              dataset_options={"VERSION": "1.2"},   # readable by GDAL 3.6 and QGIS 3.22 too
              layer_options={"IDENTIFIER": sel.layer.title.fr[:255],
                             "DESCRIPTION": f"{sel.layer.title.fr}. {stamp}"},
              dataset_metadata={"SOURCE": SOURCE_MENTION, "MILLESIME": millesimes,
                                "DATE_EXPORT": exported.isoformat()})
