"""A generic pygeoapi feature provider over one view of the diffusion schema.

The service role it connects as can read nothing but the diffusion schema,
where secrecy is already applied: this provider only selects published rows,
it never aggregates. Every identifier in the SQL comes from the database
catalogue (checked names, ``psycopg.sql.Identifier``); every value is a
parameter.

What it adds to pygeoapi's own handling (see docs/api.md):
- CQL2 filters translated from pygeofilter's AST (``providers.cql``);
- ``datetime`` = millésime (the view's ``time_field``): the latest by default;
- exact ``numberMatched`` and pages cached per (query, data version);
- keyset paging along the identifier through a ``cursor`` in its own
  ``next`` link, and correct ``next``/``prev`` links typed ``application/geo+json``.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout
from pygeoapi.provider.base import (BaseProvider, ProviderConnectionError,
                                    ProviderInvalidQueryError, ProviderItemNotFoundError,
                                    ProviderQueryError)

from providers import cache
from providers.cql import FilterContext, Translator
from providers.pool import service_pool

LOGGER = logging.getLogger(__name__)

SCHEMA = "diffusion"
STORAGE_SRID = 2154
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# CRS URI -> (SRID, latitude first). EPSG:4326 is latitude first (OGC API Features Part 2).
OUTPUT_CRS = {
    CRS84: (4326, False),
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84h": (4326, False),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True),
    "http://www.opengis.net/def/crs/EPSG/0/2154": (2154, False),
    "http://www.opengis.net/def/crs/EPSG/0/3857": (3857, False),
}
CURSOR_PARAM = "cursor"
MAX_OFFSET = 100_000_000

# PostgreSQL type -> JSON Schema type (queryables, schema).
JSON_TYPES = {
    "text": "string", "character varying": "string", "character": "string",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "number", "real": "number", "double precision": "number",
    "boolean": "boolean", "date": "string", "timestamp with time zone": "string",
}
_YEAR = r"(\d{4})(?:-\d{2}(?:-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)?)?"
DATETIME_INSTANT = re.compile(rf"^{_YEAR}$")


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str       # format_type(), e.g. "integer", "numeric(6,1)"

    @property
    def base_type(self) -> str:
        return self.pg_type.split("(")[0]


@dataclass(frozen=True)
class ViewLayout:
    view: str
    columns: dict[str, Column]     # attribute columns, in view order
    geometry_columns: dict[int, str]  # SRID -> geometry column

    def check(self, name: str, what: str) -> Column:
        try:
            return self.columns[name]
        except (KeyError, TypeError):
            raise ProviderInvalidQueryError(
                user_msg=f"{what} : propriété inconnue {str(name)[:64]!r}") from None


_layouts: dict[str, ViewLayout] = {}
_layouts_lock = threading.Lock()


def describe_view(view: str) -> ViewLayout:
    """Columns of a diffusion view, read once per process from the catalogue."""
    layout = _layouts.get(view)
    if layout is not None:
        return layout
    with _layouts_lock, _connection() as conn:
        rows = conn.execute(
            """SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                      coalesce(postgis_typmod_srid(a.atttypmod), 0) AS srid,
                      t.typname = 'geometry' AS is_geometry
               FROM pg_attribute a
               JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_type t ON t.oid = a.atttypid
               WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0
                 AND NOT a.attisdropped
               ORDER BY a.attnum""", [SCHEMA, view]).fetchall()
    if not rows:
        raise ProviderConnectionError(f"vue publiée {SCHEMA}.{view} introuvable")
    columns = {name: Column(name, typ) for name, typ, _, is_geom in rows if not is_geom}
    geoms = {srid: name for name, _, srid, is_geom in rows if is_geom}
    if STORAGE_SRID not in geoms:
        raise ProviderConnectionError(f"{SCHEMA}.{view} : pas de géométrie en EPSG:{STORAGE_SRID}")
    layout = ViewLayout(view, columns, geoms)
    _layouts[view] = layout
    return layout


class DatabaseUnavailable(ProviderConnectionError):
    """The database does not answer: ``503`` (the app adds ``Retry-After``), never a 500."""
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    ogc_exception_code = "ServiceUnavailable"
    default_msg = "base de données momentanément indisponible"


@contextmanager
def _connection():
    """A pooled connection of the service role; an outage becomes a provider error."""
    try:
        with service_pool().connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError):
        raise DatabaseUnavailable(user_msg="base de données momentanément indisponible") from None


def data_version(conn) -> int:
    return conn.execute("SELECT data_version FROM diffusion.data_version").fetchone()[0]


def _request_args() -> dict | None:
    """Query arguments of the current Flask request (None outside a request)."""
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover - pygeoapi always brings Flask
        return None
    if not has_request_context():
        return None
    return request


def _server_url() -> str:
    """pygeoapi's ``server.url`` (the URL clients use), as its own links do."""
    import sys
    flask_app = sys.modules.get("pygeoapi.flask_app")
    try:
        return str(flask_app.CONFIG["server"]["url"]).rstrip("/")
    except (AttributeError, KeyError, TypeError):
        from portail.settings import get_settings
        return get_settings().public_url


def _crs_srid(uri: str | None, what: str) -> tuple[int, bool]:
    if uri is None:
        return 4326, False
    try:
        return OUTPUT_CRS[uri]
    except KeyError:
        raise ProviderInvalidQueryError(user_msg=f"{what} non pris en charge : {uri[:200]}") from None


class PublishedViewProvider(BaseProvider):
    """Features of ``diffusion.<data.view>``; config generated from the data dictionary."""

    def __init__(self, provider_def):
        super().__init__(provider_def)
        data = provider_def["data"]
        self.view = data["view"] if isinstance(data, dict) else str(data)
        self.layout = describe_view(self.view)
        if self.id_field not in self.layout.columns:
            raise ProviderConnectionError(f"id_field {self.id_field!r} absent de {self.view}")
        if self.time_field and self.time_field not in self.layout.columns:
            raise ProviderConnectionError(f"time_field {self.time_field!r} absent de {self.view}")
        self.get_fields()

    # -- schema ---------------------------------------------------------------
    def get_fields(self):
        if not self._fields:
            from data_dictionary.model import dictionary
            layer = dictionary().layer_for_view(self.view)
            fields = {}
            for c in self.layout.columns.values():
                entry = {"type": JSON_TYPES.get(c.base_type, "string")}
                if c.base_type == "date":
                    entry["format"] = "date"
                described = layer.fields.get(c.name) if layer else None
                if described is not None:
                    entry["title"] = described.label.fr
                    entry["description"] = described.definition.fr
                fields[c.name] = entry
            self._fields = fields
        return self._fields

    # -- SQL pieces -----------------------------------------------------------
    def _table(self) -> sql.Composable:
        return sql.Identifier(SCHEMA, self.view)

    def _typed_param(self, column: Column) -> sql.Composable:
        # The type name comes from the catalogue, not from the request.
        return sql.SQL("CAST(%s AS {})").format(sql.SQL(column.base_type))

    def _bbox_clause(self, bbox) -> tuple[sql.Composable, list]:
        try:
            minx, miny, maxx, maxy = (float(v) for v in bbox[:2] + bbox[-2:]) \
                if len(bbox) == 6 else (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise ProviderInvalidQueryError(user_msg="bbox : quatre nombres attendus") from None
        if not all(map(lambda v: v == v and abs(v) != float("inf"), (minx, miny, maxx, maxy))):
            raise ProviderInvalidQueryError(user_msg="bbox : nombres invalides")
        geom = sql.Identifier(self.layout.geometry_columns[STORAGE_SRID])
        return (sql.SQL("{g} && ST_MakeEnvelope(%s, %s, %s, %s, {srid}) AND "
                        "ST_Intersects({g}, ST_MakeEnvelope(%s, %s, %s, %s, {srid}))")
                .format(g=geom, srid=sql.Literal(STORAGE_SRID)), [minx, miny, maxx, maxy] * 2)

    def _filter_clause(self, filterq) -> tuple[sql.Composable, list]:
        req = _request_args()
        filter_crs = req.args.get("filter-crs") if req is not None else None
        srid, swap = _crs_srid(filter_crs, "filter-crs")
        from_json = req is not None and "filter" not in req.args
        geometry = self.layout.geometry_columns[STORAGE_SRID]
        context = FilterContext(
            column_type=lambda name: self.layout.check(name, "filter").base_type,
            geometry_column=geometry, geometry_names=frozenset({geometry, "geometry"}),
            storage_srid=STORAGE_SRID, filter_srid=srid, filter_swap=swap,
            json_envelopes=from_json)
        return Translator(context).translate(filterq)

    def _where(self, conn, version, bbox, properties, datetime_, filterq):
        clauses: list[sql.Composable] = []
        params: list = []
        if bbox:
            clause, values = self._bbox_clause(bbox)
            clauses.append(clause)
            params += values
        for name, value in properties or []:
            column = self.layout.check(name, "filtre")
            clauses.append(sql.SQL("{} = {}").format(sql.Identifier(name),
                                                     self._typed_param(column)))
            params.append(value)
        if self.time_field:
            clause, values = self._millesime_clause(conn, version, datetime_)
            if clause is not None:
                clauses.append(clause)
                params += values
        if filterq is not None:
            clause, values = self._filter_clause(filterq)
            clauses.append(clause)
            params += values
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params

    # -- millésimes ---------------------------------------------------------------
    def millesimes(self, conn, version: int) -> list[int]:
        """Loaded millésimes of the view (index skip scan), cached per data version."""
        key = (self.view, version)
        found = cache.MILLESIMES.get(key)
        if found is None:
            stmt = sql.SQL(
                "WITH RECURSIVE m(v) AS (SELECT min({c}) FROM {t} UNION ALL "
                "SELECT (SELECT min({c}) FROM {t} WHERE {c} > m.v) FROM m WHERE m.v IS NOT NULL) "
                "SELECT v FROM m WHERE v IS NOT NULL").format(
                    c=sql.Identifier(self.time_field), t=self._table())
            found = [int(r[0]) for r in conn.execute(stmt).fetchall()]
            cache.MILLESIMES.put(key, found)
        return found

    def _millesime_clause(self, conn, version, datetime_):
        loaded = self.millesimes(conn, version)
        if not loaded:
            return None, []
        if datetime_ is None:
            wanted = [loaded[-1]]       # the latest by default
        else:
            low, high = parse_millesimes(str(datetime_))
            wanted = [m for m in loaded if (low is None or m >= low) and (high is None or m <= high)]
            if not wanted:
                raise ProviderInvalidQueryError(
                    user_msg=f"datetime : aucun millésime chargé pour {str(datetime_)[:40]!r} "
                             f"(millésimes disponibles : {', '.join(map(str, loaded))})")
        if wanted == loaded:
            return None, []             # every loaded millésime: no condition to plan
        column = sql.Identifier(self.time_field)
        if len(wanted) == 1:
            return sql.SQL("{} = %s").format(column), wanted
        return sql.SQL("{} BETWEEN %s AND %s").format(column), [wanted[0], wanted[-1]]

    # -- output ------------------------------------------------------------------------
    def _order_by(self, sortby) -> sql.Composable:
        keys = []
        for key in sortby or []:
            self.layout.check(key.get("property"), "sortby")
            direction = sql.SQL("DESC") if key.get("order") == "-" else sql.SQL("ASC")
            keys.append(sql.SQL("{} {}").format(sql.Identifier(key["property"]), direction))
        keys.append(sql.Identifier(self.id_field))  # a stable order makes paging exact
        return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)

    def _geometry_output(self, crs_transform_spec) -> sql.Composable:
        if crs_transform_spec is None:
            srid, swap = STORAGE_SRID, False
        else:
            srid, swap = _crs_srid(crs_transform_spec.target_crs_uri, "crs")
        if srid in self.layout.geometry_columns:
            geom = sql.Identifier(self.layout.geometry_columns[srid])
        else:
            geom = sql.SQL("ST_Transform({}, {})").format(
                sql.Identifier(self.layout.geometry_columns[STORAGE_SRID]), sql.Literal(srid))
        if swap:
            geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
        digits = 7 if srid == 4326 else 2
        return sql.SQL("ST_AsGeoJSON({}, {})").format(geom, sql.Literal(digits))

    # -- pygeoapi API -----------------------------------------------------------
    def query(self, offset=0, limit=10, resulttype="results", bbox=[], datetime_=None,
              properties=[], sortby=[], select_properties=[], skip_geometry=False, q=None,
              filterq=None, crs_transform_spec=None, **kwargs):
        try:
            offset, limit = int(offset), int(limit)
        except (TypeError, ValueError):
            raise ProviderInvalidQueryError(user_msg="offset et limit sont des entiers") from None
        if offset < 0 or limit < 0 or offset > MAX_OFFSET:
            raise ProviderInvalidQueryError(user_msg="offset et limit doivent être positifs")
        if q:
            raise ProviderInvalidQueryError(user_msg="q (recherche plein texte) n'est pas "
                                                     "pris en charge : utilisez filter")
        selected = [self.layout.check(p, "properties").name for p in select_properties or []] \
            or list(self.layout.columns)
        if self.id_field not in selected:
            selected = [self.id_field, *selected]
        order_by = self._order_by(sortby)
        geometry = sql.SQL("NULL") if skip_geometry else self._geometry_output(crs_transform_spec)
        req = _request_args()
        cursor = req.args.get(CURSOR_PARAM) if req is not None and req.method == "GET" else None
        keyset = not sortby and offset > 0 and cursor is not None

        with _connection() as conn:
            try:
                version = data_version(conn)
                where, params = self._where(conn, version, bbox, properties, datetime_, filterq)
                query_key = (self.view, version, repr(where), repr(params), repr(sortby))
                matched = cache.COUNTS.get(query_key)
                if matched is None:
                    matched = conn.execute(sql.SQL("SELECT count(*) FROM {}{}").format(
                        self._table(), where), params).fetchone()[0]
                    cache.COUNTS.put(query_key, matched)
                features: list[dict] = []
                if resulttype != "hits" and limit > 0 and offset < matched:
                    page_key = (query_key, tuple(selected), skip_geometry, repr(geometry),
                                offset, limit, cursor if keyset else None)
                    features = cache.PAGES.get(page_key)
                    if features is None:
                        rows = self._page(conn, where, params, order_by, selected, geometry,
                                          offset, limit, cursor if keyset else None)
                        features = [self._feature(selected, row) for row in rows]
                        weight = sum(len(r[-1] or "") + 64 * len(r) for r in rows)
                        cache.PAGES.put(page_key, features, weight)
            except psycopg.errors.DataError:
                raise ProviderInvalidQueryError(
                    user_msg="valeur incompatible avec le type de la propriété") from None
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                LOGGER.error("query on %s failed: %s", self.view, type(exc).__name__)
                raise ProviderQueryError("échec de la requête") from None

        # Copies: pygeoapi's formatters may decorate features; the cached ones stay clean.
        features = [{**f, "properties": dict(f["properties"])} for f in features]
        result = {"type": "FeatureCollection", "features": features,
                  "numberMatched": matched, "numberReturned": len(features)}
        if req is not None and req.method == "GET" and resulttype != "hits":
            result["links"] = self._paging_links(req, offset, limit, matched, features,
                                                 keyset_ok=not sortby)
        return result

    def _page(self, conn, where, params, order_by, selected, geometry, offset, limit, cursor):
        fields = sql.SQL(", ").join([*(sql.Identifier(c) for c in selected), geometry])
        if cursor is not None:
            # Keyset: rows after the last identifier of the previous page, no OFFSET scan.
            id_column = self.layout.columns[self.id_field]
            after = sql.SQL("{} > {}").format(sql.Identifier(self.id_field),
                                              self._typed_param(id_column))
            # _where() gives a bare SQL("") when there is no condition.
            where = sql.SQL(" WHERE ") + after if isinstance(where, sql.SQL) \
                else where + sql.SQL(" AND ") + after
            stmt = sql.SQL("SELECT {} FROM {}{}{} LIMIT %s").format(
                fields, self._table(), where, order_by)
            return conn.execute(stmt, [*params, cursor, limit]).fetchall()
        stmt = sql.SQL("SELECT {} FROM {}{}{} LIMIT %s OFFSET %s").format(
            fields, self._table(), where, order_by)
        return conn.execute(stmt, [*params, limit, offset]).fetchall()

    def _paging_links(self, req, offset, limit, matched, features, keyset_ok) -> list[dict]:
        """``next``/``prev`` links; none on the last page (pygeoapi adds ``prev`` then)."""
        end = offset + len(features)
        if end >= matched or not features:
            try:
                from flask import g
                g.portail_last_page = True   # providers.web drops pygeoapi's spurious next
            except RuntimeError:  # pragma: no cover
                pass
            return []
        base = f"{_server_url()}{req.path}"
        args = [(k, v) for k, v in req.args.items(multi=True)
                if k not in ("offset", CURSOR_PARAM)]
        next_args = [*args, ("offset", end)]
        if keyset_ok:
            next_args.append((CURSOR_PARAM, features[-1]["id"]))
        links = [{"type": "application/geo+json", "rel": "next", "title": "Page suivante",
                  "href": f"{base}?{urlencode(next_args)}"}]
        if offset > 0:
            links.append({"type": "application/geo+json", "rel": "prev",
                          "title": "Page précédente",
                          "href": f"{base}?{urlencode([*args, ('offset', max(0, offset - limit))])}"})
        return links

    def get(self, identifier, **kwargs):
        column = self.layout.columns[self.id_field]
        crs_transform_spec = kwargs.get("crs_transform_spec")
        selected = list(self.layout.columns)
        stmt = sql.SQL("SELECT {}, {} FROM {} WHERE {} = {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in selected),
            self._geometry_output(crs_transform_spec), self._table(),
            sql.Identifier(self.id_field), self._typed_param(column))
        if self.time_field:
            stmt += sql.SQL(" ORDER BY {} DESC LIMIT 1").format(sql.Identifier(self.time_field))
        with _connection() as conn:
            try:
                row = conn.execute(stmt, [str(identifier)]).fetchone()
            except psycopg.errors.DataError:
                row = None  # not even of the identifier's type: no such item
        if row is None:
            raise ProviderItemNotFoundError(
                user_msg=f"aucun objet d'identifiant {str(identifier)[:64]!r}")
        return self._feature(selected, row)

    def _feature(self, selected: list[str], row) -> dict:
        props = dict(zip(selected, row[:-1]))
        geometry = row[-1]
        return {"type": "Feature", "id": props[self.id_field],
                "geometry": json.loads(geometry) if geometry else None,
                "properties": props}

    def __repr__(self):
        return f"<PublishedViewProvider> {SCHEMA}.{self.view}"


def parse_millesimes(value: str) -> tuple[int | None, int | None]:
    """``datetime`` -> (first, last) millésime; an instant gives one year."""
    value = value.strip()
    if "/" in value:
        parts = value.split("/")
        if len(parts) != 2:
            raise ProviderInvalidQueryError(user_msg="datetime : intervalle « début/fin » attendu")
        bounds = []
        for part in parts:
            part = part.strip()
            if part in ("", ".."):
                bounds.append(None)
                continue
            match = DATETIME_INSTANT.match(part)
            if not match:
                raise ProviderInvalidQueryError(
                    user_msg=f"datetime : date {part[:40]!r} illisible (AAAA ou AAAA-MM-JJ)")
            bounds.append(int(match.group(1)))
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            raise ProviderInvalidQueryError(user_msg="datetime : début après la fin")
        return bounds[0], bounds[1]
    match = DATETIME_INSTANT.match(value)
    if not match:
        raise ProviderInvalidQueryError(
            user_msg=f"datetime : date {value[:40]!r} illisible (AAAA ou AAAA-MM-JJ)")
    year = int(match.group(1))
    return year, year
