"""A generic pygeoapi feature provider over one view of the diffusion schema.

The service role it connects as can read nothing but the diffusion schema,
where secrecy is already applied: this provider only selects published rows,
it never aggregates. Every identifier in the SQL comes from the database
catalogue (checked names, ``psycopg.sql.Identifier``); every value is a
parameter.
"""
from __future__ import annotations

import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout
from pygeoapi.provider.base import (BaseProvider, ProviderConnectionError,
                                    ProviderInvalidQueryError, ProviderItemNotFoundError,
                                    ProviderQueryError)

from providers.pool import service_pool

LOGGER = logging.getLogger(__name__)

SCHEMA = "diffusion"
STORAGE_SRID = 2154
# Output CRS URI -> (SRID, swap axes). EPSG:4326 is latitude first (OGC API Features Part 2).
OUTPUT_CRS = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84": (4326, False),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True),
    "http://www.opengis.net/def/crs/EPSG/0/2154": (2154, False),
    "http://www.opengis.net/def/crs/EPSG/0/3857": (3857, False),
}

# PostgreSQL type -> JSON Schema type (queryables, schema).
JSON_TYPES = {
    "text": "string", "character varying": "string", "character": "string",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "number", "real": "number", "double precision": "number",
    "boolean": "boolean", "date": "string", "timestamp with time zone": "string",
}


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
        except KeyError:
            raise ProviderInvalidQueryError(
                user_msg=f"{what} : propriété inconnue {name!r}") from None


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
    layout = ViewLayout(view, columns, geoms)
    _layouts[view] = layout
    return layout


@contextmanager
def _connection():
    """A pooled connection of the service role; an outage becomes a provider error."""
    try:
        with service_pool().connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError):
        raise ProviderConnectionError("base de données indisponible") from None


class PublishedViewProvider(BaseProvider):
    """Features of ``diffusion.<data.view>``; config in ``pygeoapi-config.yml``."""

    def __init__(self, provider_def):
        super().__init__(provider_def)
        data = provider_def["data"]
        self.view = data["view"] if isinstance(data, dict) else str(data)
        self.layout = describe_view(self.view)
        if self.id_field not in self.layout.columns:
            raise ProviderConnectionError(f"id_field {self.id_field!r} absent de {self.view}")
        self.get_fields()

    # -- schema ---------------------------------------------------------------
    def get_fields(self):
        if not self._fields:
            self._fields = {
                c.name: {"type": JSON_TYPES.get(c.base_type, "string"),
                         **({"format": "date"} if c.base_type == "date" else {})}
                for c in self.layout.columns.values()}
        return self._fields

    # -- SQL pieces -----------------------------------------------------------
    def _table(self) -> sql.Composable:
        return sql.Identifier(SCHEMA, self.view)

    def _typed_param(self, column: Column) -> sql.Composable:
        # The type name comes from the catalogue, not from the request.
        return sql.SQL("CAST(%s AS {})").format(sql.SQL(column.pg_type))

    def _where(self, bbox, properties) -> tuple[sql.Composable, list]:
        clauses: list[sql.Composable] = []
        params: list = []
        if bbox:
            try:
                minx, miny, maxx, maxy = (float(v) for v in bbox)
            except (TypeError, ValueError):
                raise ProviderInvalidQueryError(user_msg="bbox : quatre nombres attendus") from None
            geom = sql.Identifier(self.layout.geometry_columns[STORAGE_SRID])
            clauses.append(sql.SQL("{g} && ST_MakeEnvelope(%s, %s, %s, %s, {srid}) AND "
                                   "ST_Intersects({g}, ST_MakeEnvelope(%s, %s, %s, %s, {srid}))")
                           .format(g=geom, srid=sql.Literal(STORAGE_SRID)))
            params += [minx, miny, maxx, maxy] * 2
        for name, value in properties or []:
            column = self.layout.check(name, "filtre")
            clauses.append(sql.SQL("{} = {}").format(sql.Identifier(name),
                                                     self._typed_param(column)))
            params.append(value)
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params

    def _order_by(self, sortby) -> sql.Composable:
        keys = []
        for key in sortby or []:
            self.layout.check(key["property"], "sortby")
            direction = sql.SQL("DESC") if key.get("order") == "-" else sql.SQL("ASC")
            keys.append(sql.SQL("{} {}").format(sql.Identifier(key["property"]), direction))
        keys.append(sql.Identifier(self.id_field))  # a stable order makes paging exact
        return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)

    def _geometry_output(self, crs_transform_spec) -> sql.Composable:
        if crs_transform_spec is None:
            srid, swap = STORAGE_SRID, False
        else:
            try:
                srid, swap = OUTPUT_CRS[crs_transform_spec.target_crs_uri]
            except KeyError:
                raise ProviderInvalidQueryError(
                    user_msg=f"crs non pris en charge : {crs_transform_spec.target_crs_uri}"
                ) from None
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
        if filterq is not None:
            raise ProviderInvalidQueryError(user_msg="filter n'est pas encore pris en charge")
        try:
            offset, limit = int(offset), int(limit)
        except (TypeError, ValueError):
            raise ProviderInvalidQueryError(user_msg="offset et limit sont des entiers") from None
        if offset < 0 or limit < 0:
            raise ProviderInvalidQueryError(user_msg="offset et limit doivent être positifs")
        where, params = self._where(bbox, properties)
        selected = [self.layout.check(p, "properties").name for p in select_properties or []] \
            or list(self.layout.columns)
        if self.id_field not in selected:
            selected = [self.id_field, *selected]

        count_sql = sql.SQL("SELECT count(*) FROM {}{}").format(self._table(), where)
        fields = [sql.Identifier(c) for c in selected]
        fields.append(sql.SQL("NULL") if skip_geometry else self._geometry_output(crs_transform_spec))
        items_sql = sql.SQL("SELECT {} FROM {}{}{} LIMIT %s OFFSET %s").format(
            sql.SQL(", ").join(fields), self._table(), where, self._order_by(sortby))

        with _connection() as conn:
            try:
                matched = conn.execute(count_sql, params).fetchone()[0]
                rows = [] if resulttype == "hits" else \
                    conn.execute(items_sql, [*params, limit, offset]).fetchall()
            except psycopg.errors.DataError:
                raise ProviderInvalidQueryError(
                    user_msg="valeur de filtre incompatible avec le type de la propriété") from None
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                LOGGER.error("query on %s failed: %s", self.view, type(exc).__name__)
                raise ProviderQueryError("échec de la requête") from None

        features = [self._feature(selected, row) for row in rows]
        return {"type": "FeatureCollection", "features": features,
                "numberMatched": matched, "numberReturned": len(features)}

    def get(self, identifier, **kwargs):
        column = self.layout.columns[self.id_field]
        crs_transform_spec = kwargs.get("crs_transform_spec")
        selected = list(self.layout.columns)
        stmt = sql.SQL("SELECT {}, {} FROM {} WHERE {} = {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in selected),
            self._geometry_output(crs_transform_spec), self._table(),
            sql.Identifier(self.id_field), self._typed_param(column))
        with _connection() as conn:
            try:
                row = conn.execute(stmt, [str(identifier)]).fetchone()
            except psycopg.errors.DataError:
                row = None  # not even of the identifier's type: no such item
        if row is None:
            raise ProviderItemNotFoundError(user_msg=f"aucun objet d'identifiant {identifier!r}")
        return self._feature(selected, row)

    def _feature(self, selected: list[str], row) -> dict:
        props = dict(zip(selected, row[:-1]))
        geometry = row[-1]
        return {"type": "Feature", "id": props[self.id_field],
                "geometry": json.loads(geometry) if geometry else None,
                "properties": props}

    def __repr__(self):
        return f"<PublishedViewProvider> {SCHEMA}.{self.view}"
