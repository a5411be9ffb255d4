"""A generic pygeoapi feature provider over one view of the diffusion schema.

Thin by design: what is published and how to select it (catalogue, data version,
millésimes and the default one, CRS, bbox and geometry clauses) is the read model
(``diffusion``); this class composes one query from it and shapes pygeoapi's
answer. The service role it connects as can read nothing but the diffusion
schema, where secrecy is already applied: it only selects published rows, it
never aggregates. Every identifier in the SQL comes from the database catalogue
(checked names, ``psycopg.sql.Identifier``); every value is a parameter.

What pygeoapi cannot tell a provider, the portal's items handler
(``portail.pygeoapi_seam``) passes explicitly to ``query``: the ``bbox_crs`` (the
box is reprojected in PostGIS, never in Python), the ``filter_crs`` and whether
the filter came as CQL2-JSON, the paging ``cursor``, and ``links_base`` /
``link_args`` from which the ``next``/``prev`` links are built (server URL of
the configuration, never the request's Host).

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
from contextlib import contextmanager
from http import HTTPStatus
from urllib.parse import urlencode

import psycopg
from psycopg import sql
from pygeoapi.provider.base import (BaseProvider, ProviderConnectionError,
                                    ProviderInvalidQueryError, ProviderItemNotFoundError,
                                    ProviderQueryError)

from diffusion import cache, millesimes
from diffusion.catalogue import SCHEMA, STORAGE_SRID, Column, describe_view
from diffusion.clauses import CRS84, Envelope, bbox_clause, crs_srid, geometry_json
from diffusion.errors import InvalidQuery, NotPublished, Unavailable
from diffusion.store import connection, data_version
from providers.cql import FilterContext, Translator

LOGGER = logging.getLogger(__name__)

CURSOR_PARAM = "cursor"
MAX_OFFSET = 100_000_000

# PostgreSQL type -> JSON Schema type (queryables, schema).
JSON_TYPES = {
    "text": "string", "character varying": "string", "character": "string",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "number", "real": "number", "double precision": "number",
    "boolean": "boolean", "date": "string", "timestamp with time zone": "string",
}

_fields: dict[str, dict] = {}   # view -> pygeoapi fields (built once per process)


class DatabaseUnavailable(ProviderConnectionError):
    """The database does not answer: ``503`` (the app adds ``Retry-After``), never a 500."""
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    ogc_exception_code = "ServiceUnavailable"
    default_msg = "base de données momentanément indisponible"


@contextmanager
def _as_provider_errors():
    """The read model's errors as pygeoapi's (400, 503, 500)."""
    try:
        yield
    except InvalidQuery as exc:
        raise ProviderInvalidQueryError(user_msg=exc.message) from None
    except Unavailable as exc:
        raise DatabaseUnavailable(user_msg=exc.message) from None
    except NotPublished as exc:
        raise ProviderConnectionError(exc.message) from None


@contextmanager
def _connection():
    with _as_provider_errors(), connection() as conn:
        yield conn


def fields_of(view: str) -> dict:
    """pygeoapi's description of the view's properties: JSON types and French labels."""
    found = _fields.get(view)
    if found is None:
        from data_dictionary.model import dictionary
        layer = dictionary().layer_for_view(view)
        found = {}
        for c in describe_view(view).columns.values():
            entry = {"type": JSON_TYPES.get(c.base_type, "string")}
            if c.base_type == "date":
                entry["format"] = "date"
            described = layer.fields.get(c.name) if layer else None
            if described is not None:
                entry["title"] = described.label.fr
                entry["description"] = described.definition.fr
            found[c.name] = entry
        _fields[view] = found
    return found


class PublishedViewProvider(BaseProvider):
    """Features of ``diffusion.<data.view>``; config generated from the data dictionary."""

    def __init__(self, provider_def):
        super().__init__(provider_def)
        data = provider_def["data"]
        self.view = data["view"] if isinstance(data, dict) else str(data)
        with _as_provider_errors():
            self.layout = describe_view(self.view)
        if self.id_field not in self.layout.columns:
            raise ProviderConnectionError(f"id_field {self.id_field!r} absent de {self.view}")
        if self.time_field and self.time_field not in self.layout.columns:
            raise ProviderConnectionError(f"time_field {self.time_field!r} absent de {self.view}")
        self.get_fields()

    # -- schema ---------------------------------------------------------------
    def get_fields(self):
        if not self._fields:
            with _as_provider_errors():
                self._fields = fields_of(self.view)
        return self._fields

    # -- SQL pieces -----------------------------------------------------------
    def _table(self) -> sql.Composable:
        return sql.Identifier(SCHEMA, self.view)

    def _typed_param(self, column: Column) -> sql.Composable:
        # The type name comes from the catalogue, not from the request.
        return sql.SQL("CAST(%s AS {})").format(sql.SQL(column.base_type))

    def _filter_clause(self, filterq, filter_crs, filter_from_body) -> tuple[sql.Composable, list]:
        srid, swap = crs_srid(filter_crs, "filter-crs")
        geometry = self.layout.storage_geometry
        context = FilterContext(
            column_type=lambda name: self.layout.check(name, "filter").base_type,
            geometry_column=geometry, geometry_names=frozenset({geometry, "geometry"}),
            storage_srid=STORAGE_SRID, filter_srid=srid, filter_swap=swap,
            json_envelopes=filter_from_body)
        return Translator(context).translate(filterq)

    def _where(self, conn, version, bbox, bbox_crs, properties, datetime_, filterq,
               filter_crs, filter_from_body):
        clauses: list[sql.Composable] = []
        params: list = []
        if bbox:
            srid, swap = crs_srid(bbox_crs, "bbox-crs")
            clause, values = bbox_clause(self.layout, Envelope.from_values(bbox, srid, swap))
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
            clause, values = self._filter_clause(filterq, filter_crs, filter_from_body)
            clauses.append(clause)
            params += values
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params

    # -- millésimes ---------------------------------------------------------------
    def millesimes(self, conn, version: int) -> list[int]:
        """Loaded millésimes of the view, cached per data version."""
        return millesimes.loaded(conn, self.view, self.time_field, version)

    def _millesime_clause(self, conn, version, datetime_):
        loaded = self.millesimes(conn, version)
        if not loaded:
            return None, []
        if datetime_ is None:
            wanted = [millesimes.default(loaded)]
        else:
            low, high = millesimes.parse_datetime(str(datetime_))
            wanted = millesimes.within(loaded, low, high)
            if not wanted:
                raise InvalidQuery(
                    f"datetime : aucun millésime chargé pour {str(datetime_)[:40]!r} "
                    f"(millésimes disponibles : {millesimes.available_text(loaded)})")
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

    def _geometry_output(self, crs: str | None) -> sql.Composable:
        srid, swap = (STORAGE_SRID, False) if crs is None else crs_srid(crs, "crs")
        return geometry_json(self.layout, srid, swap)

    @staticmethod
    def _output_crs(crs, crs_transform_spec) -> str | None:
        """The output CRS URI: the explicit ``crs`` of the items handler, else pygeoapi's
        transform spec (None: the storage CRS)."""
        if crs is not None:
            return crs
        return None if crs_transform_spec is None else crs_transform_spec.target_crs_uri

    # -- pygeoapi API -----------------------------------------------------------
    def query(self, offset=0, limit=10, resulttype="results", bbox=[], datetime_=None,
              properties=[], sortby=[], select_properties=[], skip_geometry=False, q=None,
              filterq=None, crs_transform_spec=None, *, crs=None, bbox_crs=None,
              filter_crs=None, filter_from_body=False, cursor=None, links_base=None,
              link_args=(), **kwargs):
        """One page of features.

        Beyond pygeoapi's arguments, from the portal's items handler: ``crs`` (output
        CRS URI), ``bbox_crs`` (CRS of ``bbox``, CRS84 by default), ``filter_crs`` and
        ``filter_from_body`` (CQL2-JSON), ``cursor`` (last identifier of the previous
        page), ``links_base`` (URL of the items, None: no paging links) and
        ``link_args`` (the request's query arguments, repeated in the links).
        """
        with _as_provider_errors():
            return self._query(offset, limit, resulttype, bbox, datetime_, properties, sortby,
                               select_properties, skip_geometry, q, filterq,
                               self._output_crs(crs, crs_transform_spec), bbox_crs,
                               filter_crs, filter_from_body, cursor, links_base, link_args)

    def _query(self, offset, limit, resulttype, bbox, datetime_, properties, sortby,
               select_properties, skip_geometry, q, filterq, crs, bbox_crs, filter_crs,
               filter_from_body, cursor, links_base, link_args):
        try:
            offset, limit = int(offset), int(limit)
        except (TypeError, ValueError):
            raise InvalidQuery("offset et limit sont des entiers") from None
        if offset < 0 or limit < 0 or offset > MAX_OFFSET:
            raise InvalidQuery("offset et limit doivent être positifs")
        if q:
            raise InvalidQuery("q (recherche plein texte) n'est pas pris en charge : "
                               "utilisez filter")
        selected = [self.layout.check(p, "properties").name for p in select_properties or []] \
            or list(self.layout.columns)
        if self.id_field not in selected:
            selected = [self.id_field, *selected]
        order_by = self._order_by(sortby)
        geometry = sql.SQL("NULL") if skip_geometry else self._geometry_output(crs)
        keyset = not sortby and offset > 0 and cursor is not None

        with connection() as conn:
            try:
                version = data_version(conn)
                where, params = self._where(conn, version, bbox, bbox_crs, properties,
                                            datetime_, filterq, filter_crs, filter_from_body)
                query_key = (self.view, version, repr(where), repr(params), repr(sortby))
                matched = cache.COUNTS.get(query_key)
                features: list[dict] | None = None
                page_key = (query_key, tuple(selected), skip_geometry, repr(geometry),
                            offset, limit, cursor if keyset else None)
                wants_rows = resulttype != "hits" and limit > 0
                if matched is None and wants_rows and offset == 0:
                    # The first page first: when it is not full, it is the whole match
                    # and the count costs nothing (a bbox of QGIS, a narrow filter).
                    features = self._features(conn, page_key, where, params, order_by,
                                              selected, geometry, offset, limit, None)
                    if len(features) < limit:
                        matched = len(features)
                        cache.COUNTS.put(query_key, matched)
                if matched is None:
                    matched = conn.execute(sql.SQL("SELECT count(*) FROM {}{}").format(
                        self._table(), where), params).fetchone()[0]
                    cache.COUNTS.put(query_key, matched)
                if features is None:
                    features = []
                    if wants_rows and offset < matched:
                        features = self._features(conn, page_key, where, params, order_by,
                                                  selected, geometry, offset, limit,
                                                  cursor if keyset else None)
            except psycopg.errors.DataError:
                raise InvalidQuery("valeur incompatible avec le type de la propriété") from None
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                LOGGER.error("query on %s failed: %s", self.view, type(exc).__name__)
                raise ProviderQueryError("échec de la requête") from None

        # Copies: pygeoapi's formatters may decorate features; the cached ones stay clean.
        features = [{**f, "properties": dict(f["properties"])} for f in features]
        result = {"type": "FeatureCollection", "features": features,
                  "numberMatched": matched, "numberReturned": len(features)}
        if links_base is not None and resulttype != "hits":
            result["links"] = self._paging_links(links_base, link_args, offset, limit, matched,
                                                 features, keyset_ok=not sortby)
        return result

    def _features(self, conn, page_key, where, params, order_by, selected, geometry, offset,
                  limit, cursor) -> list[dict]:
        features = cache.PAGES.get(page_key)
        if features is None:
            rows = self._page(conn, where, params, order_by, selected, geometry, offset,
                              limit, cursor)
            features = [self._feature(selected, row) for row in rows]
            weight = sum(len(r[-1] or "") + 64 * len(r) for r in rows)
            cache.PAGES.put(page_key, features, weight)
        return features

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

    def _paging_links(self, base, args, offset, limit, matched, features,
                      keyset_ok) -> list[dict]:
        """``next``/``prev`` links; none at all on the last page."""
        end = offset + len(features)
        if end >= matched or not features:
            return []
        args = [(k, v) for k, v in args if k not in ("offset", CURSOR_PARAM)]
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
        crs = self._output_crs(kwargs.get("crs"), kwargs.get("crs_transform_spec"))
        selected = list(self.layout.columns)
        with _as_provider_errors():
            stmt = sql.SQL("SELECT {}, {} FROM {} WHERE {} = {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in selected),
                self._geometry_output(crs), self._table(),
                sql.Identifier(self.id_field), self._typed_param(column))
            if self.time_field:
                stmt += sql.SQL(" ORDER BY {} DESC LIMIT 1").format(
                    sql.Identifier(self.time_field))
            with connection() as conn:
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


__all__ = ["CRS84", "DatabaseUnavailable", "PublishedViewProvider", "fields_of"]
