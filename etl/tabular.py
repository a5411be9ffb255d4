"""Shared wiring of the tabular sources: read with a spec, stage, check, swap one millésime."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from psycopg import sql

from etl import source as src
from etl.errors import Rejection
from etl.loading import (create_stage, ensure_territory, locate_points, reject, run_load,
                          skip_outside_communes)
from etl.points import detect_srid


POINT_COLUMNS = {"x": "_x", "y": "_y", "epsg": "_epsg"}


def stage_columns(spec: src.CsvSpec, point: bool) -> list[tuple[str, str]]:
    cols = [("_line", "int")]
    for f in spec.fields:
        name = POINT_COLUMNS.get(f.name, f.name) if point else f.name
        cols.append((name, f.sqltype))
    return cols


def unknown_code(conn, stage: str, column: str, field: str, table: str, key: str) -> list[Rejection]:
    """Reject staged rows whose ``column`` is not a known ``table.key`` (our constants only)."""
    schema, name = table.split(".")
    return reject(conn, stage, sql.SQL(
        "s.{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {t} k WHERE k.{k} = s.{c})").format(
        c=sql.Identifier(column), t=sql.Identifier(schema, name), k=sql.Identifier(key)),
        field, sql.SQL("format('code %s inconnu (' || {} || ')', s.{})").format(
            sql.Literal(table.split(".")[1]), sql.Identifier(column)))


def load_table(owner_dsn: str, spec: src.CsvSpec, path: Path, millesime: int, target: str,
               insert: sql.Composable, *, encoding: str | None = None, point: bool = False,
               source_crs: str | None = None, fill: tuple[str, ...] = ("code_insee",),
               checks: Callable | None = None, max_rejects: float = 0.0, fictif: bool = False,
               force: bool = False, result: src.ReadResult | None = None, digest: str | None = None,
               prepare: Callable | None = None, after: Callable | None = None):
    """Read, stage as ``<source>_stage``, run ``checks(conn, result)`` → rejections, swap.

    ``insert`` is the ``INSERT INTO target … SELECT … FROM <source>_stage`` of the source,
    with one ``%s`` for the millésime. When the detected layout covers more than the MEL
    (``result.layout.outside_skipped``), rows of other communes, and points outside the
    territory without a commune, are skipped and counted, not rejected.
    """
    result = result or src.read_csv(path, spec, encoding)
    srid = detect_srid(path, result, source_crs) if point else None
    rows = prepare(result.rows) if prepare else result.rows
    stage = f"{spec.source}_stage"
    layout = result.layout
    wide = bool(layout is not None and layout.outside_skipped)

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, stage, stage_columns(spec, point), rows, label=spec.source)
        outside = 0
        names = {f.name for f in spec.fields}
        if wide and "code_insee" in names:
            outside += skip_outside_communes(conn, stage)
        if point:
            conn.execute(sql.SQL("ALTER TABLE {} ADD geom geometry(Point, 2154)").format(sql.Identifier(stage)))
            for col in fill:
                if col not in names:
                    conn.execute(sql.SQL("ALTER TABLE {} ADD {} text").format(
                        sql.Identifier(stage), sql.Identifier(col)))
        rej: list[Rejection] = []
        warnings: list[str] = []
        if checks:
            rej += checks(conn, result)
        if point:
            r2, warnings, skipped = locate_points(conn, stage, srid, result.columns["x"], result.columns["y"],
                                                  fill=fill, skip_outside=wide)
            rej += r2
            outside += skipped
        schema, name = target.split(".")
        conn.execute(sql.SQL("DELETE FROM {} WHERE millesime = %s").format(
            sql.Identifier(schema, name)), [millesime])
        n = conn.execute(insert, [millesime]).rowcount
        if after:
            after(conn)
        return n, rej, warnings, outside

    return run_load(owner_dsn, spec.source, millesime, path, result.rows_read, result.rejections,
                    load, max_rejects, fictif, force, digest=digest, layout=layout,
                    rows_outside=result.rows_outside, absent=result.absent, notes=result.notes)


def keep_territory(owner_dsn: str, spec: src.CsvSpec, result: src.ReadResult, field: str = "code_insee") -> None:
    """For a departmental, regional or national layout: drop (and count in ``rows_outside``)
    the rows whose commune is not one of the territory's. Rows without a commune are kept
    (their position decides)."""
    if result.layout is None or not result.layout.outside_skipped:
        return
    from portail.db import connect
    with connect(owner_dsn) as conn:
        communes = {r[0] for r in conn.execute("SELECT code_insee FROM core.commune").fetchall()}
    if not communes:
        return
    i = 1 + [f.name for f in spec.fields].index(field)
    keep = []
    for row in result.rows:
        if row[i] is not None and row[i] not in communes:
            result.rows_outside += 1
        else:
            keep.append(row)
    result.rows = keep


def drop_unplaced(spec: src.CsvSpec, result: src.ReadResult, what: str) -> None:
    """Drop the rows without coordinates (they cannot be placed), said in the report."""
    names = [f.name for f in spec.fields]
    ix, iy = 1 + names.index("x"), 1 + names.index("y")
    keep = [r for r in result.rows if r[ix] is not None and r[iy] is not None]
    if len(keep) < len(result.rows):
        result.notes.append(f"{len(result.rows) - len(keep)} {what} sans coordonnées ignoré(s)")
    result.rows = keep
