"""GeoJSON of the published views for the map, with geometries simplified per zoom.

Reads only ``diffusion`` views, as the service role, through the shared pool. Every
name (layer, field) is checked against the data dictionary and the view's catalogue
before it reaches SQL (``psycopg.sql.Identifier``); values go as ``%s`` parameters.
Nothing is computed from the data: rows are selected, never aggregated.

Payload bounds (see docs/carte.md for the figures):
- polygons are simplified with ``ST_SimplifyPreserveTopology`` at half a screen pixel
  of the requested zoom, and written with a precision that matches it;
- a request carries only the key, name, statuses and the one indicator the page shows
  (the popup reads the full row from the OGC API items);
- point layers and résidences need a bounding box and return at most ``MAX_FEATURES``
  rows (``truncated`` says when more exist).
"""
from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from psycopg import sql

from carte.catalog import CONTEXT_LAYERS, FOND_LAYERS, allowed_layers
from data_dictionary.model import Dictionary, Layer, dictionary
from diffusion import millesimes as published_millesimes
from diffusion.catalogue import LONLAT_SRID, SCHEMA, describe_view
from diffusion.clauses import Envelope, bbox_clause
from diffusion.store import connection, data_version

MAX_FEATURES = 3000
# The published distances of each résidence to the nearest metro or tram station.
PROXIMITY_LAYER, PROXIMITY_FIELD = "proximite_residences", "dist_metro_tram_m"
MIN_ZOOM, MAX_ZOOM = 8, 19
# metres per pixel at zoom 0 at the latitude of Lille (50.6°N): 156543.03 * cos(50.6°)
METRES_PER_PIXEL_Z0 = 156543.03 * math.cos(math.radians(50.6))
MEL_BBOX = (2.70, 50.45, 3.35, 50.85)   # lon/lat; a view box is clipped to it
_CACHE_SIZE = 128


class LayerRequestError(ValueError):
    """A bad request to the data endpoint (message in French, safe to show)."""


@dataclass(frozen=True)
class LayerRequest:
    layer: Layer
    millesime: int | None
    zoom: int
    bbox: tuple[float, float, float, float] | None
    fields: tuple[str, ...]
    family: str | None
    station_m: int | None = None     # résidences within this distance of a metro/tram station

    @property
    def is_point(self) -> bool:
        return self.layer.geometry in ("Point", "MultiPoint")


def tolerance(zoom: int) -> float:
    """Simplification tolerance in metres (EPSG:2154): half a pixel at this zoom."""
    return 0.5 * METRES_PER_PIXEL_Z0 / (2 ** zoom)


def precision(zoom: int) -> int:
    """Decimal places of the WGS 84 coordinates: about a pixel at this zoom."""
    return 4 if zoom <= 10 else 5 if zoom <= 15 else 6


def parse_request(dic: Dictionary, name: str, args) -> LayerRequest:
    layer = allowed_layers(dic).get(name)
    if layer is None:
        raise LayerRequestError(f"couche inconnue de la carte : {name[:64]!r}")
    try:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, int(args.get("zoom", 11))))
        millesime = int(args["millesime"]) if args.get("millesime") else None
    except ValueError:
        raise LayerRequestError("zoom et millesime : nombres entiers attendus") from None
    if millesime is not None and not 1900 <= millesime <= 2200:
        raise LayerRequestError("millesime : une année attendue (par ex. 2025)")
    bbox = None
    if args.get("bbox"):
        try:
            values = [float(v) for v in args["bbox"].split(",")]
        except ValueError:
            values = []
        if len(values) != 4 or not all(math.isfinite(v) for v in values) \
                or values[0] >= values[2] or values[1] >= values[3]:
            raise LayerRequestError("bbox : quatre nombres attendus, lon min,lat min,lon max,lat max")
        bbox = (max(values[0], MEL_BBOX[0]), max(values[1], MEL_BBOX[1]),
                min(values[2], MEL_BBOX[2]), min(values[3], MEL_BBOX[3]))
        if bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            bbox = (0.0, 0.0, 0.0, 0.0)   # outside the MEL: an empty answer
    fields = tuple(f for f in (args.get("champs") or "").split(",") if f)
    for f in fields:
        if f not in layer.fields or layer.fields[f].type not in ("integer", "number"):
            raise LayerRequestError(f"champs : indicateur inconnu pour {name} : {f[:64]!r}")
    family = args.get("famille") or None
    spec = CONTEXT_LAYERS.get(name, {})
    if family is not None and "family_field" not in spec:
        raise LayerRequestError("famille : seulement pour la couche equipements")
    station_m = None
    if args.get("station_m"):
        try:
            station_m = int(args["station_m"])
        except ValueError:
            raise LayerRequestError("station_m : une distance en mètres attendue") from None
        if not 1 <= station_m <= 20000:
            raise LayerRequestError("station_m : de 1 à 20 000 mètres")
        if layer.scale != "residence" or PROXIMITY_LAYER not in dic.layers:
            raise LayerRequestError("station_m : seulement pour une couche de résidences")
    request = LayerRequest(layer, millesime, zoom, bbox, fields, family, station_m)
    if (request.is_point or layer.scale == "residence") and bbox is None:
        raise LayerRequestError("bbox obligatoire pour une couche de points")
    return request


def _properties(req: LayerRequest, columns) -> list[str]:
    """Columns sent for each feature: key, name, statuses, label, requested indicators."""
    layer = req.layer
    wanted = [layer.id_field]
    for name in ("code", "residence_id", "nom", "code_insee"):
        if name in layer.fields:
            wanted.append(name)
    wanted += [n for n in layer.fields if n.startswith("statut_")]
    spec = CONTEXT_LAYERS.get(layer.name) or FOND_LAYERS.get(layer.name, {})
    for key in ("label_field", "family_field", "mode_field"):
        if spec.get(key):
            wanted.append(spec[key])
    wanted += spec.get("fields", [])
    wanted += list(req.fields)
    if "millesime" in layer.fields:
        wanted.append("millesime")
    out = []
    for name in wanted:
        if name in columns and name not in out:
            out.append(name)
    return out


def _query(req: LayerRequest, millesime: int | None, layout, proximity_view: str | None = None):
    columns, geom_column = layout.columns, layout.storage_geometry
    props = _properties(req, columns)
    geom = sql.Identifier(geom_column)
    if not req.is_point:
        geom = sql.SQL("ST_SimplifyPreserveTopology({}, %s)").format(geom)
    where, params = [], []
    if not req.is_point:
        params.append(tolerance(req.zoom))
    params.append(precision(req.zoom))
    if millesime is not None and "millesime" in columns:
        where.append(sql.SQL("millesime = %s"))
        params.append(millesime)
    if req.bbox is not None:
        # What the map draws: bounding boxes that overlap the view (index test only).
        clause, values = bbox_clause(layout, Envelope(*req.bbox, LONLAT_SRID), exact=False)
        where.append(clause)
        params.extend(values)
    if req.family is not None:
        family_field = CONTEXT_LAYERS[req.layer.name]["family_field"]
        where.append(sql.SQL("{} = %s").format(sql.Identifier(family_field)))
        params.append(req.family)
    if not req.is_point and req.layer.scale != "residence":
        where.append(sql.SQL("{} IS NOT NULL").format(sql.Identifier(geom_column)))
    if req.station_m is not None and proximity_view is not None:
        # A location-derived figure, published for every résidence (small ones included).
        where.append(sql.SQL(
            "EXISTS (SELECT 1 FROM {prox} p WHERE p.residence_id = {view}.residence_id "
            "AND p.millesime = {view}.millesime AND p.{dist} <= %s)").format(
                prox=sql.Identifier(SCHEMA, proximity_view),
                view=sql.Identifier(SCHEMA, req.layer.view),
                dist=sql.Identifier(PROXIMITY_FIELD)))
        params.append(req.station_m)
    pairs = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(p), sql.Identifier(p))
                               for p in props)
    stmt = sql.SQL(
        "SELECT json_build_object('type', 'Feature', 'id', {id}, "
        "'geometry', ST_AsGeoJSON(ST_Transform({geom}, 4326), %s)::json, "
        "'properties', json_build_object({pairs}))::text "
        "FROM {view} {where} ORDER BY {id} LIMIT %s"
    ).format(id=sql.Identifier(req.layer.id_field), geom=geom, pairs=pairs,
             view=sql.Identifier(SCHEMA, req.layer.view),
             where=(sql.SQL("WHERE ") + sql.SQL(" AND ").join(where)) if where else sql.SQL(""))
    params.append(MAX_FEATURES + 1)
    return stmt, params


class _Cache:
    """Answers without a bounding box (territory layers), per data version."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value):
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_cache = _Cache(_CACHE_SIZE)


def layer_geojson(req: LayerRequest) -> bytes:
    """The FeatureCollection for this request, as UTF-8 bytes."""
    layout = describe_view(req.layer.view)
    proximity_view = None
    if req.station_m is not None:
        proximity = dictionary().layers[PROXIMITY_LAYER]
        describe_view(proximity.view).check(PROXIMITY_FIELD, "station_m")
        proximity_view = proximity.view
    with connection() as conn:
        version = data_version(conn)
        key = (version, req.layer.name, req.millesime, req.zoom, req.fields, req.family,
               req.station_m) \
            if req.bbox is None else None
        if key is not None and (hit := _cache.get(key)) is not None:
            return hit
        millesime = req.millesime
        if millesime is None and "millesime" in layout.columns:
            millesime = published_millesimes.default(
                published_millesimes.loaded(conn, req.layer.view, "millesime", version))
        stmt, params = _query(req, millesime, layout, proximity_view)
        rows = [r[0] for r in conn.execute(stmt, params)]
    truncated = len(rows) > MAX_FEATURES
    rows = rows[:MAX_FEATURES]
    head = json.dumps({"type": "FeatureCollection", "layer": req.layer.name,
                       "millesime": millesime, "zoom": req.zoom, "truncated": truncated,
                       "numberReturned": len(rows)}, ensure_ascii=False)[:-1]
    body = (head + ', "features": [' + ",".join(rows) + "]}").encode("utf-8")
    if key is not None:
        _cache.put(key, body)
    return body


def millesimes(dic: Dictionary) -> dict[str, list[int]]:
    """Loaded millésimes of every map layer (newest first), from the read model."""
    out = {}
    with connection() as conn:
        version = data_version(conn)
        for name, layer in allowed_layers(dic).items():
            if "millesime" in layer.fields:
                out[name] = published_millesimes.loaded(conn, layer.view, "millesime",
                                                        version)[::-1]
    return out
