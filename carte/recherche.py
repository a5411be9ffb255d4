"""The map's search box: communes, IRIS, QPV (names, codes) and published résidences
(address, landlord, identifier), answered from the published views only.

A résidence is searchable only where the published view gives its address
(``diffusion.parc_residence`` blanks address, landlord and commune of a hidden
résidence, ``statut_secret`` S or under the threshold): a hidden résidence is never
found, by its address or otherwise, in the millésime searched (the one shown on the
map, the latest by default). Nothing else than what the service role reads is
indexed.

The index (a few thousand short texts for the MEL) is read once per (data version,
millésime) and per process, and matched in Python with accents and case folded: the
answer does not depend on a database extension (``unaccent``, ``pg_trgm``).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from psycopg import sql

from data_dictionary.model import Dictionary
from diffusion import millesimes as published_millesimes
from diffusion.cache import LRU
from diffusion.catalogue import SCHEMA, describe_view
from diffusion.store import connection, data_version

MIN_LENGTH, MAX_LENGTH = 2, 100
MAX_RESULTS = 12
MAX_PER_KIND = {"commune": 5, "iris": 5, "qpv": 5, "residence": 8}
KIND_ORDER = {"commune": 0, "qpv": 1, "iris": 2, "residence": 3}
# The dictionary's layers read by the search (territory outlines and the résidences).
TERRITORY_LAYERS = {"commune": "communes", "iris": "iris", "qpv": "qpv"}
RESIDENCE_LAYER = "parc_residences"


class SearchRequestError(ValueError):
    """A bad search request (French message, safe to show)."""


def fold(text: str | None) -> str:
    """Lower case, accents removed, punctuation as spaces: « Saint-André » -> « saint andre »."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.lower().replace("œ", "oe").replace("æ", "ae")
    return " ".join(re.split(r"[^0-9a-z]+", bare)).strip()


@dataclass(frozen=True)
class Entry:
    kind: str                 # commune, iris, qpv, residence
    code: str                 # the key of the map layer at that scale
    label: str
    detail: str
    bbox: tuple[float, float, float, float] | None   # lon/lat, territories
    point: tuple[float, float] | None                # lon/lat, résidences
    codes: tuple[str, ...]    # folded codes (exact match ranks first)
    name: str                 # folded label
    words: str                # folded label + detail + codes

    def as_json(self) -> dict:
        out = {"type": self.kind, "code": self.code, "label": self.label, "detail": self.detail}
        if self.bbox is not None:
            out["bbox"] = list(self.bbox)
        if self.point is not None:
            out["point"] = list(self.point)
        return out


def _territory_rows(conn, dic: Dictionary, kind: str, version: int):
    layer = dic.layers[TERRITORY_LAYERS[kind]]
    layout = describe_view(layer.view)
    code, name = {"commune": ("code_insee", "nom"), "iris": ("code_iris", "nom_iris"),
                  "qpv": ("code_qpv", "nom_qpv")}[kind]
    extra = "code_insee" if kind == "iris" else "communes" if kind == "qpv" else None
    for column in (code, name, extra):
        if column is not None:
            layout.check(column, "recherche")
    where, params = sql.SQL(""), []
    if "millesime" in layout.columns:
        latest = published_millesimes.default(
            published_millesimes.loaded(conn, layer.view, "millesime", version))
        where, params = sql.SQL("WHERE millesime = %s"), [latest]
    geom = sql.Identifier(layout.geometry_columns.get(4326) or layout.storage_geometry)
    box = sql.SQL("Box2D(ST_Transform({g}, 4326))").format(g=geom)
    stmt = sql.SQL(
        "SELECT {code}, {name}, {extra}, ST_XMin({box}), ST_YMin({box}), ST_XMax({box}), "
        "ST_YMax({box}) FROM {view} {where} ORDER BY {code}").format(
            code=sql.Identifier(code), name=sql.Identifier(name),
            extra=sql.Identifier(extra) if extra else sql.SQL("NULL"), box=box,
            view=sql.Identifier(SCHEMA, layer.view), where=where)
    return conn.execute(stmt, params).fetchall()


def _residence_rows(conn, dic: Dictionary, millesime: int | None, version: int):
    layer = dic.layers[RESIDENCE_LAYER]
    layout = describe_view(layer.view)
    for column in ("residence_id", "adresse", "bailleur", "code_insee", "millesime"):
        layout.check(column, "recherche")
    loaded = published_millesimes.loaded(conn, layer.view, "millesime", version)
    if millesime not in loaded:
        millesime = published_millesimes.default(loaded)
    geom = sql.Identifier(layout.geometry_columns.get(4326) or layout.storage_geometry)
    point = sql.SQL("ST_Transform({g}, 4326)").format(g=geom)
    # Only the rows whose address the view publishes: never a hidden résidence.
    stmt = sql.SQL(
        "SELECT residence_id, adresse, bailleur, code_insee, ST_X({p}), ST_Y({p}) "
        "FROM {view} WHERE millesime = %s AND adresse IS NOT NULL "
        "ORDER BY residence_id").format(p=point, view=sql.Identifier(SCHEMA, layer.view))
    return millesime, conn.execute(stmt, [millesime]).fetchall()


def build_index(dic: Dictionary, millesime: int | None) -> tuple[int | None, list[Entry]]:
    """Every searchable entry of the publication (territories, published résidences)."""
    entries: list[Entry] = []
    with connection() as conn:
        version = data_version(conn)
        key = (version, millesime)
        hit = _cache.get(key)
        if hit is not None:
            return hit
        communes = {}
        for code, name, _, *box in _territory_rows(conn, dic, "commune", version):
            communes[code] = name
            entries.append(_entry("commune", code, name, "Commune", tuple(box), None))
        for code, name, insee, *box in _territory_rows(conn, dic, "iris", version):
            town = communes.get(insee, insee or "")
            entries.append(_entry("iris", code, name or code, f"IRIS · {town}", tuple(box), None))
        for code, name, towns, *box in _territory_rows(conn, dic, "qpv", version):
            names = ", ".join(communes.get(c, c) for c in (towns or "").split(",") if c)
            entries.append(_entry("qpv", code, name or code, f"QPV · {names}".rstrip(" ·"),
                                  tuple(box), None))
        served, rows = _residence_rows(conn, dic, millesime, version)
        for rid, address, landlord, insee, lon, lat in rows:
            town = communes.get(insee, insee or "")
            detail = " · ".join(x for x in (town, landlord) if x)
            entries.append(_entry("residence", rid, address, detail, None, (lon, lat)))
    result = (served, entries)
    _cache.put(key, result)
    return result


def _entry(kind, code, label, detail, bbox, point) -> Entry:
    codes = (fold(code),)
    name = fold(label)
    return Entry(kind, code, label, detail, bbox, point, codes, name,
                 " ".join((name, fold(detail), *codes)))


def _score(entry: Entry, folded: str, tokens: list[str]) -> int | None:
    """Rank of ``entry`` for the query (lower is better), None when it does not match."""
    if folded in entry.codes:
        return 0
    if entry.name == folded:
        return 1
    if entry.name.startswith(folded):
        return 2
    words = entry.words.split()
    if all(any(w.startswith(t) for w in words) for t in tokens):
        return 3 if all(any(w.startswith(t) for w in entry.name.split()) for t in tokens) else 4
    if folded in entry.words:
        return 5
    return None


def search(dic: Dictionary, query: str, millesime: int | None = None) -> dict:
    """The best matches of ``query``: communes, QPV, IRIS, then published résidences."""
    query = (query or "").strip()
    if len(query) < MIN_LENGTH or len(query) > MAX_LENGTH:
        raise SearchRequestError(
            f"q : de {MIN_LENGTH} à {MAX_LENGTH} caractères attendus (nom, code ou adresse)")
    folded = fold(query)
    tokens = folded.split()
    served, entries = build_index(dic, millesime)
    if not tokens:
        return {"query": query, "millesime": served, "results": []}
    found = []
    for entry in entries:
        rank = _score(entry, folded, tokens)
        if rank is not None:
            found.append((rank, KIND_ORDER[entry.kind], len(entry.label), entry.label, entry))
    found.sort(key=lambda x: x[:4])
    per_kind: dict[str, int] = {}
    results = []
    for *_, entry in found:
        if per_kind.get(entry.kind, 0) >= MAX_PER_KIND[entry.kind]:
            continue
        per_kind[entry.kind] = per_kind.get(entry.kind, 0) + 1
        results.append(entry.as_json())
        if len(results) >= MAX_RESULTS:
            break
    return {"query": query, "millesime": served, "results": results}


_cache = LRU(8)   # (data version, millésime) -> index; a publication makes old ones unreachable
