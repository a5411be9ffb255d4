"""CQL2 filters (pygeofilter AST) to composed SQL.

Every attribute is checked against the view's columns before it becomes an
``Identifier``; every literal is a ``%s`` parameter cast to the column's
catalogue type; geometries are checked with shapely before they reach
PostGIS. Anything not translated is refused with a 400, never guessed.

pygeoapi has already moved filter geometries into the storage CRS
(``modify_pygeofilter``) and renamed ``geometry`` to the storage column; it
leaves envelopes (``BBOX(...)``, CQL2-JSON ``{"bbox": ...}``) in the filter
CRS, so they are transformed here, in SQL.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Callable

import shapely.geometry
from psycopg import sql
from pygeofilter import ast, values
from pygeoapi.provider.base import ProviderInvalidQueryError

COMPARISONS = {
    ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
    ast.GreaterThan: ">", ast.GreaterEqual: ">=",
}
SPATIAL = {
    ast.GeometryIntersects: "ST_Intersects", ast.GeometryWithin: "ST_Within",
    ast.GeometryContains: "ST_Contains", ast.GeometryDisjoint: "ST_Disjoint",
    ast.GeometryTouches: "ST_Touches", ast.GeometryCrosses: "ST_Crosses",
    ast.GeometryOverlaps: "ST_Overlaps", ast.GeometryEquals: "ST_Equals",
}
DISTANCE_UNITS = {"meters": 1.0, "metres": 1.0, "m": 1.0, "kilometers": 1000.0,
                  "kilometres": 1000.0, "km": 1000.0}
MAX_DEPTH = 50
MAX_IN_VALUES = 1000


def invalid(message: str) -> ProviderInvalidQueryError:
    return ProviderInvalidQueryError(user_msg=f"filter : {message}")


@dataclass
class FilterContext:
    """What the translator needs to know about the layer and the request."""
    column_type: Callable[[str], str]   # checked name -> catalogue type (raises if unknown)
    geometry_column: str                # storage geometry column
    geometry_names: frozenset[str]      # names a filter may use for it
    storage_srid: int
    filter_srid: int                    # CRS of envelopes left untransformed by pygeoapi
    filter_swap: bool                   # filter CRS is latitude first (EPSG:4326)
    json_envelopes: bool                # envelope came from CQL2-JSON (pygeofilter axis bug)
    params: list = field(default_factory=list)


class Translator:
    def __init__(self, context: FilterContext):
        self.ctx = context

    def translate(self, node) -> tuple[sql.Composable, list]:
        self.ctx.params = []
        clause = self._node(node, 0)
        return clause, self.ctx.params

    # -- dispatch --------------------------------------------------------------------
    def _node(self, node, depth: int) -> sql.Composable:
        if depth > MAX_DEPTH:
            raise invalid("expression trop imbriquée")
        kind = type(node)
        if kind in (ast.And, ast.Or):
            op = sql.SQL(" AND ") if kind is ast.And else sql.SQL(" OR ")
            return sql.SQL("({})").format(op.join([self._node(node.lhs, depth + 1),
                                                   self._node(node.rhs, depth + 1)]))
        if kind is ast.Not:
            return sql.SQL("(NOT {})").format(self._node(node.sub_node, depth + 1))
        if kind in COMPARISONS:
            return self._comparison(node, COMPARISONS[kind])
        if kind is ast.Like:
            return self._like(node)
        if kind is ast.In:
            return self._in(node)
        if kind is ast.Between:
            return self._between(node)
        if kind is ast.IsNull:
            return sql.SQL("({} IS {}NULL)").format(
                self._attribute(node.lhs), sql.SQL("NOT " if node.not_ else ""))
        if kind is ast.Include:
            return sql.SQL("FALSE" if node.not_ else "TRUE")
        if kind in SPATIAL:
            return self._spatial(SPATIAL[kind], node.lhs, node.rhs)
        if kind in (ast.DistanceWithin, ast.DistanceBeyond):
            return self._distance(node, negate=kind is ast.DistanceBeyond)
        if kind is ast.BBox:
            envelope = self._envelope(node.minx, node.miny, node.maxx, node.maxy, json_order=False)
            return sql.SQL("ST_Intersects({}, {})").format(self._geometry_attribute(node.lhs),
                                                          envelope)
        raise invalid(f"opération non prise en charge ({kind.__name__})")

    # -- operands ------------------------------------------------------------------------
    def _attribute(self, node) -> sql.Composable:
        if not isinstance(node, ast.Attribute):
            raise invalid("une propriété est attendue")
        self.ctx.column_type(node.name)   # raises on an unknown name
        return sql.Identifier(node.name)

    def _literal(self, value, pg_type: str) -> sql.Composable:
        if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
            pass
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise invalid("nombre invalide")
        else:
            raise invalid(f"valeur non prise en charge ({type(value).__name__})")
        self.ctx.params.append(value)
        return sql.SQL("CAST(%s AS {})").format(sql.SQL(pg_type))

    def _operand(self, node, pg_type: str | None) -> sql.Composable:
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Node):
            raise invalid("expression non prise en charge (seules les propriétés et les "
                          "valeurs littérales sont comparées)")
        if pg_type is None:
            raise invalid("une comparaison porte sur au moins une propriété")
        return self._literal(node, pg_type)

    def _type_of(self, *nodes) -> str | None:
        for node in nodes:
            if isinstance(node, ast.Attribute):
                return self.ctx.column_type(node.name)
        return None

    # -- predicates -----------------------------------------------------------------------
    def _comparison(self, node, op: str) -> sql.Composable:
        pg_type = self._type_of(node.lhs, node.rhs)
        return sql.SQL("({} {} {})").format(self._operand(node.lhs, pg_type), sql.SQL(op),
                                            self._operand(node.rhs, pg_type))

    def _like(self, node) -> sql.Composable:
        pg_type = self._type_of(node.lhs)
        column = self._attribute(node.lhs)
        if pg_type not in ("text", "character varying", "character"):
            column = sql.SQL("CAST({} AS text)").format(column)
        if not isinstance(node.pattern, str):
            raise invalid("LIKE attend un motif texte")
        # CQL2 wildcards are SQL's: % (any), _ (one), backslash escapes.
        self.ctx.params.append(node.pattern)
        op = "ILIKE" if node.nocase else "LIKE"
        return sql.SQL("({} {}{} %s)").format(
            column, sql.SQL("NOT " if node.not_ else ""), sql.SQL(op))

    def _in(self, node) -> sql.Composable:
        pg_type = self._type_of(node.lhs)
        column = self._attribute(node.lhs)
        items = list(node.sub_nodes)
        if not items or len(items) > MAX_IN_VALUES:
            raise invalid(f"IN attend de 1 à {MAX_IN_VALUES} valeurs")
        for item in items:
            if isinstance(item, ast.Node) or isinstance(item, (list, dict)) or item is None:
                raise invalid("IN attend des valeurs littérales")
        self.ctx.params.append(items)
        clause = sql.SQL("({} = ANY(CAST(%s AS {}[])))").format(column, sql.SQL(pg_type))
        return sql.SQL("(NOT {})").format(clause) if node.not_ else clause

    def _between(self, node) -> sql.Composable:
        pg_type = self._type_of(node.lhs)
        column = self._attribute(node.lhs)
        low, high = self._literal(node.low, pg_type), self._literal(node.high, pg_type)
        return sql.SQL("({} {}BETWEEN {} AND {})").format(
            column, sql.SQL("NOT " if node.not_ else ""), low, high)

    # -- spatial ----------------------------------------------------------------------------
    def _geometry_attribute(self, node) -> sql.Composable:
        if not isinstance(node, ast.Attribute) or node.name not in self.ctx.geometry_names:
            raise invalid("un prédicat spatial porte sur la géométrie (geometry)")
        return sql.Identifier(self.ctx.geometry_column)

    def _geometry_value(self, node) -> sql.Composable:
        if isinstance(node, values.Envelope):
            if self.ctx.json_envelopes:   # pygeofilter 0.4 CQL2-JSON: x1, x2, y1, y2 = bbox
                return self._envelope(node.x1, node.x2, node.y1, node.y2, json_order=True)
            return self._envelope(node.x1, node.y1, node.x2, node.y2, json_order=True)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            return self._envelope(*node.arguments, json_order=True)
        if isinstance(node, values.Geometry):
            geometry = {k: v for k, v in node.geometry.items() if k != "crs"}
            try:
                shape = shapely.geometry.shape(geometry)
            except Exception:  # noqa: BLE001 - any parse failure is the client's input
                raise invalid("géométrie illisible") from None
            if shape.is_empty or not shape.is_valid:
                raise invalid("géométrie invalide")
            self.ctx.params.append(json.dumps(shapely.geometry.mapping(shape)))
            return sql.SQL("ST_SetSRID(ST_GeomFromGeoJSON(%s), {})").format(
                sql.Literal(self.ctx.storage_srid))
        raise invalid("une géométrie littérale est attendue")

    def _envelope(self, *coords, json_order: bool) -> sql.Composable:
        if len(coords) == 5 and not json_order:
            coords = coords[:4]
        if len(coords) != 4:
            raise invalid("une enveloppe a quatre coordonnées")
        try:
            a, b, c, d = (float(v) for v in coords)
        except (TypeError, ValueError):
            raise invalid("coordonnées d'enveloppe non numériques") from None
        if not all(math.isfinite(v) for v in (a, b, c, d)):
            raise invalid("coordonnées d'enveloppe invalides")
        if self.ctx.filter_swap:   # EPSG:4326: latitude first
            a, b, c, d = b, a, d, c
        if a > c or b > d:
            raise invalid("enveloppe : minimum supérieur au maximum")
        self.ctx.params += [a, b, c, d]
        envelope = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(
            sql.Literal(self.ctx.filter_srid))
        if self.ctx.filter_srid != self.ctx.storage_srid:
            envelope = sql.SQL("ST_Transform({}, {})").format(
                envelope, sql.Literal(self.ctx.storage_srid))
        return envelope

    def _spatial(self, function: str, lhs, rhs) -> sql.Composable:
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        return sql.SQL("{}({}, {})").format(sql.SQL(function), self._geometry_attribute(lhs),
                                            self._geometry_value(rhs))

    def _distance(self, node, negate: bool) -> sql.Composable:
        units = str(node.units or "meters").lower()
        if units not in DISTANCE_UNITS:
            raise invalid(f"unité de distance {units!r} non prise en charge (mètres, kilomètres)")
        try:
            distance = float(node.distance) * DISTANCE_UNITS[units]
        except (TypeError, ValueError):
            raise invalid("distance non numérique") from None
        if not math.isfinite(distance) or distance < 0:
            raise invalid("distance invalide")
        geom = self._geometry_attribute(node.lhs)
        value = self._geometry_value(node.rhs)
        self.ctx.params.append(distance)
        clause = sql.SQL("ST_DWithin({}, {}, %s)").format(geom, value)
        return sql.SQL("(NOT {})").format(clause) if negate else clause
