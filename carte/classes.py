"""Class limits of the map's colours, computed once per indicator, scale and millésime over
the published values of the whole MEL (not over the features in view: the colours do not
change when the map is panned), cached per data version.

Only published values count: a hidden figure is NULL in the view and is left out, never
read as zero. ``fixe`` computes the limits over every loaded millésime at once, so that
the same colour means the same value from one millésime to the next. Limits are rounded
to two significant figures, or finer where the values are close together
(``round_limit``), then deduplicated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from psycopg import sql

from carte.catalog import allowed_layers, indicator_fields
from data_dictionary.model import Dictionary, Layer
from diffusion import millesimes as published_millesimes
from diffusion.cache import LRU
from diffusion.catalogue import SCHEMA, describe_view
from diffusion.store import connection, data_version

CLASS_COUNT = 5
METHODS = ("quantiles", "jenks")
JENKS_SAMPLE = 1000

_cache = LRU(512)


class ClassRequestError(ValueError):
    """A bad request for class limits (French message, safe to show)."""


@dataclass(frozen=True)
class ClassRequest:
    layer: Layer
    field: str
    millesime: int | None
    method: str
    fixed: bool


def parse_request(dic: Dictionary, args) -> ClassRequest:
    name = args.get("couche", "")
    layer = allowed_layers(dic).get(name)
    if layer is None or "millesime" not in layer.fields:
        raise ClassRequestError(f"couche : couche thématique inconnue de la carte : {name[:64]!r}")
    field = args.get("champ", "")
    if field not in {f.name for f in indicator_fields(layer)}:
        raise ClassRequestError(f"champ : indicateur inconnu pour {name} : {field[:64]!r}")
    method = args.get("methode") or "quantiles"
    if method not in METHODS:
        raise ClassRequestError("methode : « quantiles » ou « jenks » attendu")
    try:
        millesime = int(args["millesime"]) if args.get("millesime") else None
    except ValueError:
        raise ClassRequestError("millesime : une année attendue (par ex. 2025)") from None
    fixed = (args.get("fixe") or "non") in ("1", "oui", "true")
    return ClassRequest(layer, field, millesime, method, fixed)


def nice_step(low: float, high: float) -> float:
    """A round step for limits between ``low`` and ``high``: about 1/50 of the spread,
    a power of ten times 1, 2 or 5."""
    spread = high - low
    if spread <= 0 or not math.isfinite(spread):
        return 1.0
    raw = spread / 50
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def round_to(value: float, step: float) -> float:
    digits = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return round(round(value / step) * step, digits)


def round_limit(value: float, spread_step: float) -> float:
    """A limit rounded to two significant figures, or finer when the values are close
    together (never coarser than ``spread_step``)."""
    if value == 0:
        return 0.0
    significant = 10 ** (math.floor(math.log10(abs(value))) - 1)
    return round_to(value, min(significant, spread_step))


def quantile_breaks(values: np.ndarray, k: int) -> list[float]:
    """Inner limits of k equal-count classes (same rule as the page's former one)."""
    n = len(values)
    return [float(values[min(n - 1, (i * n) // k)]) for i in range(1, k)]


def jenks_breaks(values: np.ndarray, k: int) -> list[float]:
    """Inner limits of Fisher-Jenks natural breaks (minimal within-class variance), by
    dynamic programming over the sorted values (evenly sampled above ``JENKS_SAMPLE``)."""
    v = values
    if len(v) > JENKS_SAMPLE:
        idx = np.floor(np.arange(JENKS_SAMPLE) * (len(v) / JENKS_SAMPLE)).astype(int)
        v = np.append(v[idx], v[-1])
    n = len(v)
    k = min(k, n)
    if k < 2:
        return []
    s1 = np.concatenate(([0.0], np.cumsum(v)))
    s2 = np.concatenate(([0.0], np.cumsum(v * v)))
    # cost[i, j]: within-class sum of squares of v[i:j]
    best = np.full((k + 1, n + 1), np.inf)
    arg = np.zeros((k + 1, n + 1), dtype=int)
    best[0, 0] = 0.0
    for j in range(1, n + 1):
        i = np.arange(0, j)
        w = j - i
        s = s1[j] - s1[i]
        cost = (s2[j] - s2[i]) - s * s / w
        for c in range(1, k + 1):
            total = best[c - 1, i] + cost
            m = int(np.argmin(total))
            best[c, j], arg[c, j] = total[m], m
    starts, j = [], n
    for c in range(k, 1, -1):
        i = arg[c, j]
        starts.append(float(v[i]))
        j = i
    return sorted(starts)


def compute(values: list[float], method: str, k: int = CLASS_COUNT) -> dict:
    """{min, max, breaks, step, count} for these published values (breaks rounded)."""
    if not values:
        return {"min": None, "max": None, "breaks": [], "step": None, "count": 0}
    v = np.sort(np.asarray(values, dtype=float))
    low, high = float(v[0]), float(v[-1])
    raw = jenks_breaks(v, k) if method == "jenks" else quantile_breaks(v, k)
    step = nice_step(low, high)
    breaks = []
    for b in raw:
        r = round_limit(b, step)
        if low < r <= high and r not in breaks and (not breaks or r > breaks[-1]):
            breaks.append(r)
    return {"min": low, "max": high, "breaks": breaks, "step": step, "count": int(len(v))}


def class_limits(req: ClassRequest) -> dict:
    """The limits for this request, over the whole MEL, cached per data version."""
    layout = describe_view(req.layer.view)
    layout.check(req.field, "champ")
    with connection() as conn:
        version = data_version(conn)
        loaded = published_millesimes.loaded(conn, req.layer.view, "millesime", version)
        millesime = req.millesime if req.millesime in loaded else published_millesimes.default(loaded)
        key = (version, req.layer.name, req.field, None if req.fixed else millesime,
               req.method)
        hit = _cache.get(key)
        if hit is None:
            where = sql.SQL("") if req.fixed else sql.SQL(" AND millesime = %s")
            stmt = sql.SQL("SELECT {f}::float8 FROM {view} WHERE {f} IS NOT NULL{w}").format(
                f=sql.Identifier(req.field), view=sql.Identifier(SCHEMA, req.layer.view), w=where)
            rows = conn.execute(stmt, [] if req.fixed else [millesime]).fetchall()
            hit = compute([r[0] for r in rows], req.method)
            hit["millesimes"] = loaded if req.fixed else [millesime]
            _cache.put(key, hit)
    return {"couche": req.layer.name, "champ": req.field, "methode": req.method,
            "fixe": req.fixed, "millesime": millesime, **hit}
