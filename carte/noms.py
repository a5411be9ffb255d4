"""Place names of the map's own background: a point inside each published commune and
IRIS (``ST_PointOnSurface``), its name, and the commune's population (to choose which
names show at the metropolitan zoom). Read from the published views only, cached per data
version."""
from __future__ import annotations

from psycopg import sql

from data_dictionary.model import Dictionary
from diffusion import millesimes as published_millesimes
from diffusion.cache import LRU
from diffusion.catalogue import SCHEMA, describe_view
from diffusion.store import connection, data_version

LAYERS = {"commune": ("communes", "nom", "population_totale"),
          "iris": ("iris", "nom_iris", None)}
_cache = LRU(16)


class NamesRequestError(ValueError):
    """An unknown scale (French message, safe to show)."""


def place_names(dic: Dictionary, scale: str) -> list[dict]:
    """``[{"nom", "lon", "lat", "poids"}]`` for the communes or the IRIS."""
    if scale not in LAYERS:
        raise NamesRequestError("échelle : « commune » ou « iris » attendu")
    name, label, weight = LAYERS[scale]
    layer = dic.layers[name]
    layout = describe_view(layer.view)
    for column in (label, weight):
        if column:
            layout.check(column, "noms")
    with connection() as conn:
        version = data_version(conn)
        hit = _cache.get((version, scale))
        if hit is not None:
            return hit
        where, params = sql.SQL(""), []
        if "millesime" in layout.columns:
            latest = published_millesimes.default(
                published_millesimes.loaded(conn, layer.view, "millesime", version))
            where, params = sql.SQL("WHERE millesime = %s"), [latest]
        point = sql.SQL("ST_Transform(ST_PointOnSurface({}), 4326)").format(
            sql.Identifier(layout.storage_geometry))
        stmt = sql.SQL("SELECT {label}, ST_X(p), ST_Y(p), {weight} FROM "
                       "(SELECT {label}, {point} AS p, {weight_col} AS {weight} FROM {view} {where}) n "
                       "WHERE {label} IS NOT NULL ORDER BY {weight} DESC NULLS LAST, {label}").format(
            label=sql.Identifier(label), point=point,
            weight_col=sql.Identifier(weight) if weight else sql.SQL("NULL::int"),
            weight=sql.Identifier("poids"), view=sql.Identifier(SCHEMA, layer.view), where=where)
        rows = conn.execute(stmt, params).fetchall()
    names = [{"nom": n, "lon": round(x, 5), "lat": round(y, 5), "poids": w}
             for n, x, y, w in rows]
    _cache.put((version, scale), names)
    return names
