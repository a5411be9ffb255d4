"""What a published view holds, read from the PostgreSQL catalogue once per process.

Every name that comes from a request (a property to filter, sort or select) is
checked against the view's columns before it becomes a ``psycopg.sql.Identifier``;
type names used in casts come from here, never from the request.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from diffusion.errors import InvalidQuery, NotPublished
from diffusion.store import connection

SCHEMA = "diffusion"
STORAGE_SRID = 2154
LONLAT_SRID = 4326


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
    columns: dict[str, Column]        # attribute columns, in view order
    geometry_columns: dict[int, str]  # SRID -> geometry column

    def check(self, name: str, what: str) -> Column:
        """The column ``name``, or ``InvalidQuery`` naming what asked for it."""
        try:
            return self.columns[name]
        except (KeyError, TypeError):
            raise InvalidQuery(f"{what} : propriété inconnue {str(name)[:64]!r}") from None

    @property
    def storage_geometry(self) -> str:
        return self.geometry_columns[STORAGE_SRID]


_layouts: dict[str, ViewLayout] = {}
_layouts_lock = threading.Lock()

_COLUMNS = """SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                     coalesce(postgis_typmod_srid(a.atttypmod), 0) AS srid,
                     t.typname = 'geometry' AS is_geometry
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_type t ON t.oid = a.atttypid
              WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0
                AND NOT a.attisdropped
              ORDER BY a.attnum"""


def describe_view(view: str) -> ViewLayout:
    """Columns of a diffusion view, read once per process from the catalogue."""
    layout = _layouts.get(view)
    if layout is not None:
        return layout
    with _layouts_lock, connection() as conn:
        rows = conn.execute(_COLUMNS, [SCHEMA, view]).fetchall()
    if not rows:
        raise NotPublished(f"vue publiée {SCHEMA}.{view} introuvable")
    columns = {name: Column(name, typ) for name, typ, _, is_geom in rows if not is_geom}
    geoms = {srid: name for name, _, srid, is_geom in rows if is_geom}
    if STORAGE_SRID not in geoms:
        raise NotPublished(f"{SCHEMA}.{view} : pas de géométrie en EPSG:{STORAGE_SRID}")
    layout = ViewLayout(view, columns, geoms)
    _layouts[view] = layout
    return layout
