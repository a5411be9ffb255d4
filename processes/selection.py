"""What an export reads: published rows of diffusion views, selected, never summed.

For each layer, a territory becomes one WHERE clause on the view's own columns
(a code column, or the lon/lat geometry for a bbox); the millésimes become a
condition on the layer's time field. Everything here runs as the service role,
which reads the diffusion schema only. Names come from the data dictionary and
are checked against the view's catalogue before use.
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from data_dictionary.model import Layer
from diffusion import millesimes
from diffusion.catalogue import LONLAT_SRID, SCHEMA, describe_view
from diffusion.clauses import Envelope, bbox_clause
from processes.errors import ExportInputError
from processes.request import TERRITORY_KINDS, ExportRequest, Territory, exported_fields

# Territory kind -> the published view (and column) that lists its codes.
TERRITORY_VIEWS = {"communes": ("commune", "code_insee"), "iris": ("iris", "code_iris"),
                   "qpv": ("qpv", "code_qpv")}
# Territory kind -> column of a layer carrying the code of that kind.
CODE_COLUMNS = {"communes": "code_insee", "iris": "code_iris", "qpv": "code_qpv"}
# Layer scale -> territory kind whose codes are the layer's own `code` column.
SCALE_KIND = {"commune": "communes", "iris": "iris", "qpv": "qpv"}


@dataclass(frozen=True)
class LayerSelection:
    layer: Layer
    columns: tuple[str, ...]          # exported columns, dictionary order
    where: sql.Composable
    params: tuple
    millesimes: tuple[int, ...]       # the millésimes exported (empty: layer without time field)
    rows: int

    def select(self) -> tuple[sql.Composable, tuple]:
        order = [self.layer.time_field] if self.layer.time_field else []
        order.append(self.layer.id_field)
        stmt = sql.SQL("SELECT {cols} FROM {view} WHERE {where} ORDER BY {order}").format(
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in self.columns),
            view=sql.Identifier(SCHEMA, self.layer.view), where=self.where,
            order=sql.SQL(", ").join(sql.Identifier(c) for c in order))
        return stmt, self.params


def check_territory(conn, territory: Territory) -> None:
    """Every code of the territory must be a published territory (400 otherwise)."""
    if territory.kind not in TERRITORY_VIEWS:
        return
    view, column = TERRITORY_VIEWS[territory.kind]
    found = {r[0] for r in conn.execute(
        sql.SQL("SELECT DISTINCT {c} FROM {v} WHERE {c} = ANY(%s)").format(
            c=sql.Identifier(column), v=sql.Identifier(SCHEMA, view)),
        [list(territory.codes)])}
    missing = [c for c in territory.codes if c not in found]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise ExportInputError(f"territory.{territory.kind} : code {TERRITORY_KINDS[territory.kind]} "
                               f"inconnu : {shown}")


def _territory_clause(layer: Layer, layout, territory: Territory):
    columns = set(layout.columns)
    if territory.kind == "mel":
        return sql.SQL("TRUE"), []
    if territory.kind == "bbox":
        clause, params = bbox_clause(layout, Envelope(*territory.bbox, LONLAT_SRID))
        return clause, list(params)
    if SCALE_KIND.get(layer.scale) == territory.kind and "code" in columns:
        column = "code"
    elif CODE_COLUMNS[territory.kind] in columns:
        column = CODE_COLUMNS[territory.kind]
    else:
        raise ExportInputError(
            f"la couche {layer.name!r} (échelle {layer.scale}) ne peut pas être choisie par "
            f"codes {TERRITORY_KINDS[territory.kind]} ; choisissez une emprise (bbox), "
            "d'autres codes ou toute la MEL")
    return sql.SQL("{} = ANY(%s)").format(sql.Identifier(column)), [list(territory.codes)]


def select_layer(conn, layer: Layer, request: ExportRequest) -> LayerSelection:
    """The published rows of one layer for the request (counted, not yet read)."""
    layout = describe_view(layer.view)
    fields = [f.name for f in exported_fields(layer)]
    missing = [f for f in fields if f not in layout.columns]
    if missing:   # dictionary and view out of step: a server defect, never user input
        raise RuntimeError(f"{layer.view}: columns {missing} not in the view")
    if request.territory.kind == "bbox" and LONLAT_SRID not in layout.geometry_columns:
        raise ExportInputError(f"la couche {layer.name!r} ne peut pas être choisie par emprise")
    where, params = _territory_clause(layer, layout, request.territory)
    clauses, exported = [where], ()
    if layer.time_field:
        loaded = millesimes.loaded(conn, layer.view, layer.time_field)
        if not loaded:
            raise ExportInputError(f"la couche {layer.name!r} n'a aucun millésime chargé")
        wanted = request.millesimes or (millesimes.default(loaded),)
        absent = [m for m in wanted if m not in loaded]
        if absent:
            raise ExportInputError(
                f"millesime : {', '.join(map(str, absent))} non chargé pour la couche "
                f"{layer.name!r} (millésimes disponibles : {millesimes.available_text(loaded)})")
        clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(layer.time_field)))
        params.append(list(wanted))
        exported = tuple(wanted)
    condition = sql.SQL(" AND ").join(clauses)
    rows = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
        sql.Identifier(SCHEMA, layer.view), condition), params).fetchone()[0]
    return LayerSelection(layer, tuple(fields), condition, tuple(params), exported, rows)


def select_all(conn, request: ExportRequest, max_rows: int) -> list[LayerSelection]:
    check_territory(conn, request.territory)
    selections = [select_layer(conn, layer, request) for layer in request.layers]
    total = sum(s.rows for s in selections)
    if total > max_rows:
        raise ExportInputError(
            f"la demande dépasse la taille maximale d'un export : {total} lignes pour "
            f"{max_rows} au plus ; réduisez le territoire, les millésimes ou les couches")
    return selections
