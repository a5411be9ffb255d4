"""The load pipeline shared by every source: all or nothing, reported, idempotent.

``run_load`` reads and checks the file (no database), then in ONE transaction:
takes the source's lock, skips if the very same file is already loaded for
that millésime, stages the rows (COPY into a ``TEMP … ON COMMIT DROP`` table),
runs the database checks (unknown codes, points outside the territory…),
refuses the file if the rejected share exceeds ``max_rejects``, swaps the
millésime, records the load, purges millésimes past retention, recomputes
proximity and republishes. Any error rolls everything back.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import click
import psycopg
from psycopg import sql

from etl.errors import Rejection, SourceFileError
from etl.publish import publish
from portail.db import connect

RETENTION_YEARS = 12
STORAGE_EPSG = 2154
# Sources whose rows feed the proximity of résidences.
PROXIMITY_SOURCES = {"rpls", "bpe", "ecoles", "finess", "gtfs"}


@dataclass
class LoadSummary:
    source: str
    millesime: int
    path: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_outside: int = 0            # skipped: outside the territory (departmental/national files)
    seconds: float = 0.0
    data_version: int | None = None
    skipped: bool = False
    layout: str | None = None        # name of the layout detected
    absent: list[str] = field(default_factory=list)   # our fields the file does not have
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    purged: list[tuple[str, int, int]] = field(default_factory=list)

    def text(self) -> str:
        if self.skipped:
            return (f"{self.source} {self.millesime} : fichier identique déjà chargé, "
                    f"rien n'a changé ({self.path}).")
        lines = [f"{self.source} {self.millesime} : {self.rows_read} lignes lues, "
                 f"{self.rows_loaded} chargées, {self.rows_outside} hors du territoire (ignorées), "
                 f"{self.rows_rejected} rejetées, {self.seconds:.1f} s "
                 f"(version des données : {self.data_version})."]
        if self.layout:
            lines.append(f"  disposition reconnue : {self.layout}")
        if self.absent:
            lines.append(f"  champs absents de ce fichier (non renseignés) : {', '.join(self.absent)}")
        for r in self.rejections[:20]:
            lines.append(f"  rejet {self.path}, {r}")
        if len(self.rejections) > 20:
            lines.append(f"  … et {len(self.rejections) - 20} autres rejets")
        for w in self.warnings[:20]:
            lines.append(f"  avertissement : {w}")
        for source, m, n in self.purged:
            lines.append(f"  purgé (rétention {RETENTION_YEARS} ans) : {source} {m} ({n} lignes)")
        return "\n".join(lines)


def current_year() -> int:
    return dt.date.today().year


def check_millesime(path, millesime: int) -> None:
    """A millésime is a past or current year, not older than the retention window."""
    if millesime > current_year():
        raise SourceFileError(path, [Rejection("option --millesime", "millesime",
                                               f"millésime {millesime} dans le futur "
                                               f"(année en cours : {current_year()})")])
    if millesime < current_year() - RETENTION_YEARS + 1:
        raise SourceFileError(path, [Rejection(
            "option --millesime", "millesime",
            f"millésime {millesime} au-delà de la durée de conservation "
            f"({RETENTION_YEARS} ans : {current_year() - RETENTION_YEARS + 1} au plus tôt)")])


def file_digest(path: Path) -> str:
    """sha256 of a file, or of the sorted files of a folder (GTFS as a folder)."""
    h = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def check_rejects(path, rejections: list[Rejection], rows_read: int, max_rejects: float) -> None:
    if not rejections:
        return
    share = len(rejections) / max(rows_read, 1)
    if share > max_rejects:
        raise SourceFileError(
            path, rejections,
            hint=(f"{len(rejections)} ligne(s) rejetée(s) sur {rows_read} "
                  f"({share:.1%}, maximum accepté {max_rejects:.1%}). Corrigez le fichier, "
                  "ou acceptez une part de rejets avec --max-rejects (ex. 0.01)."))


# -- staging ----------------------------------------------------------------------------
def create_stage(conn: psycopg.Connection, name: str, columns: Iterable[tuple[str, str]],
                 rows: Iterable[tuple], label: str = "copie") -> int:
    """TEMP table ``name`` (ON COMMIT DROP) with the given (column, type), filled by COPY."""
    cols = list(columns)
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in cols)))
    n = 0
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(name), sql.SQL(", ").join(sql.Identifier(c) for c, _ in cols))
    rows = list(rows)
    with conn.cursor().copy(copy_sql) as copy, \
            click.progressbar(length=len(rows), label=f"  {label}", file=progress_stream(len(rows))) as bar:
        for i, row in enumerate(rows, 1):
            copy.write_row(row)
            if i % 20000 == 0:
                bar.update(20000)
        bar.update(len(rows) % 20000)
        n = len(rows)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    return n


def create_stage_frame(conn: psycopg.Connection, name: str, columns: Iterable[tuple[str, str]],
                       frame) -> int:
    """TEMP table ``name`` (ON COMMIT DROP) filled by one COPY (CSV) of the DataFrame's columns."""
    import io as _io
    cols = list(columns)
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in cols)))
    names = [c for c, _ in cols if c in frame.columns]
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(name), sql.SQL(", ").join(sql.Identifier(c) for c in names))
    buf = _io.StringIO()
    frame[names].to_csv(buf, index=False, header=False, na_rep="")
    with conn.cursor().copy(copy_sql) as copy:
        copy.write(buf.getvalue())
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    return len(frame)


PROGRESS_MIN_ROWS = 50000


def progress_stream(n: int, minimum: int = PROGRESS_MIN_ROWS):
    """Progress only for long steps, on stderr (never in captured test output)."""
    import io
    import sys
    return sys.stderr if n >= minimum and sys.stderr.isatty() else io.StringIO()


def reject(conn: psycopg.Connection, stage: str, condition: sql.Composable, field_name: str,
           reason: sql.Composable) -> list[Rejection]:
    """Delete the staged rows matching ``condition``; one Rejection per row (by line).

    ``condition`` and ``reason`` are SQL written in this package (no user input);
    ``reason`` is a text expression over the stage row ``s``.
    """
    rows = conn.execute(sql.SQL("DELETE FROM {} AS s WHERE {} RETURNING s._line, {}").format(
        sql.Identifier(stage), condition, reason)).fetchall()
    return [Rejection(f"ligne {line}", field_name, why) for line, why in sorted(rows)]


def territory_codes(owner_dsn: str) -> set[str]:
    """The communes of the territory (empty before any is loaded)."""
    with connect(owner_dsn) as conn:
        return {r[0] for r in conn.execute("SELECT code_insee FROM core.commune").fetchall()}


def ensure_territory(conn: psycopg.Connection, path) -> None:
    n = conn.execute("SELECT count(*) FROM core.commune").fetchone()[0]
    if n == 0:
        raise SourceFileError(path, "aucune commune chargée : le territoire est inconnu",
                              hint="Chargez d'abord les communes (etl load communes).")


TERRITORY_PARTS = {  # temp table -> (core table, code column)
    "t_commune": ("commune", "code_insee"),
    "t_iris": ("iris", "code_iris"),
    "t_qpv": ("qpv", "code_qpv"),
}


def territory_parts(conn: psycopg.Connection, which: str) -> sql.Identifier:
    """Subdivided copy of a territory layer (fast point-in-polygon), once per transaction."""
    table, code = TERRITORY_PARTS[which]
    exists = conn.execute("SELECT to_regclass(%s)", ["pg_temp." + which]).fetchone()[0]
    if not exists:
        conn.execute(sql.SQL(
            "CREATE TEMP TABLE {t} ON COMMIT DROP AS SELECT {c} AS code, ST_Subdivide(geom, 64) AS geom "
            "FROM {src}").format(t=sql.Identifier(which), c=sql.Identifier(code),
                                 src=sql.Identifier("core", table)))
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(sql.Identifier(which)))
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(which)))
    return sql.Identifier(which)


def fill_by_position(conn: psycopg.Connection, stage: str, column: str, which: str) -> None:
    """Set ``column`` from the polygon of ``which`` that contains the point, where it is null."""
    parts = territory_parts(conn, which)
    conn.execute(sql.SQL(
        "UPDATE {st} s SET {c} = p.code FROM {parts} p "
        "WHERE s.{c} IS NULL AND ST_Intersects(p.geom, s.geom)").format(
        st=sql.Identifier(stage), c=sql.Identifier(column), parts=parts))


NEIGHBOURHOOD_M = 50_000   # a point without a commune code this far from the MEL: wrong coordinates


def has_column(conn: psycopg.Connection, table: str, column: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass "
                        "AND attname = %s AND NOT attisdropped)", ["pg_temp." + table, column]).fetchone()[0]


def skip_outside_communes(conn: psycopg.Connection, stage: str, column: str = "code_insee") -> int:
    """Delete the staged rows whose declared commune is not one of the territory's; their count.

    For departmental, regional and national files only (a file extracted for the MEL
    with another commune is an error, reported by the unknown-commune check)."""
    return conn.execute(sql.SQL(
        "DELETE FROM {st} s WHERE s.{c} IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM core.commune c WHERE c.code_insee = s.{c})").format(
        st=sql.Identifier(stage), c=sql.Identifier(column))).rowcount


def locate_points(conn: psycopg.Connection, stage: str, srid: int, x_field: str, y_field: str,
                  fill: Iterable[str] = ("code_insee",), skip_outside: bool = False,
                  ) -> tuple[list[Rejection], list[str], int]:
    """Build ``geom`` (EPSG:2154) from ``_x``/``_y`` in ``srid`` (or the row's ``_epsg``);
    reject points outside the territory; fill missing codes by point-in-polygon and
    report mismatches. Returns (rejections, warnings, rows skipped outside the territory).

    A point outside the territory whose row declares a commune of the territory has wrong
    coordinates: rejected. Without a declared commune (GTFS stops) and with
    ``skip_outside`` (the file covers more than the MEL), a point outside the territory
    is skipped and counted, unless it lies farther than 50 km (wrong coordinates: rejected).
    The stage must have columns ``_x``, ``_y``, ``geom`` and those named in ``fill``.
    """
    st = sql.Identifier(stage)
    per_row = has_column(conn, stage, "_epsg")   # the file gives each row's EPSG (DiDo, BPE 2024)
    epsg = sql.SQL("coalesce(_epsg, {})" if per_row else "{}").format(sql.Literal(srid))
    conn.execute(sql.SQL(
        "UPDATE {} SET geom = ST_Transform(ST_SetSRID(ST_MakePoint(_x, _y), {}), 2154)"
        " WHERE _x IS NOT NULL AND _y IS NOT NULL AND geom IS NULL").format(st, epsg))
    rejections = reject(conn, stage, sql.SQL("s.geom IS NULL"), f"{x_field}/{y_field}",
                        sql.SQL("'coordonnées absentes'"))
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(st))
    conn.execute(sql.SQL("ANALYZE {}").format(st))
    communes = territory_parts(conn, "t_commune")
    conn.execute(sql.SQL("ALTER TABLE {} ADD _commune text").format(st))
    conn.execute(sql.SQL("UPDATE {st} s SET _commune = p.code FROM {parts} p "
                         "WHERE ST_Intersects(p.geom, s.geom)").format(st=st, parts=communes))
    # 100 m of tolerance on the simplified borders: the nearest commune.
    conn.execute(sql.SQL(
        "UPDATE {st} s SET _commune = (SELECT p.code FROM {parts} p WHERE ST_DWithin(p.geom, s.geom, 100) "
        "ORDER BY p.geom <-> s.geom LIMIT 1) WHERE s._commune IS NULL").format(st=st, parts=communes))
    declared = has_column(conn, stage, "code_insee")
    outside = 0
    if skip_outside:
        no_code = sql.SQL("s.code_insee IS NULL AND ") if declared else sql.SQL("")
        outside = conn.execute(sql.SQL(
            "DELETE FROM {st} s WHERE {no_code} s._commune IS NULL AND EXISTS (SELECT 1 FROM {parts} p "
            "WHERE ST_DWithin(p.geom, s.geom, {near}))").format(
            st=st, no_code=no_code, parts=communes, near=sql.Literal(NEIGHBOURHOOD_M))).rowcount
    where_srid = sql.SQL("coalesce(s._epsg, {})" if per_row else "{}").format(sql.Literal(srid))
    rejections += reject(conn, stage, sql.SQL("s._commune IS NULL"), f"{x_field}/{y_field}", sql.SQL(
        "format('point hors du territoire (%s, %s en EPSG:' || {} || ') : coordonnées "
        "fausses ou système de coordonnées erroné ?', s._x, s._y)").format(where_srid))
    warnings: list[str] = []
    for col in fill:
        if col == "code_insee":
            mism = conn.execute(sql.SQL(
                "SELECT _line, code_insee, _commune FROM {} WHERE code_insee IS NOT NULL "
                "AND code_insee <> _commune ORDER BY _line").format(st)).fetchall()
            for line, declared_code, located in mism[:50]:
                warnings.append(f"ligne {line}, champ {col} : déclaré {declared_code}, la position donne "
                                f"{located} (valeur du fichier gardée)")
            if len(mism) > 50:
                warnings.append(f"… et {len(mism) - 50} autres écarts de {col}")
            conn.execute(sql.SQL("UPDATE {} SET code_insee = _commune WHERE code_insee IS NULL").format(st))
        else:
            fill_by_position(conn, stage, col, {"code_iris": "t_iris", "code_qpv": "t_qpv"}[col])
    return rejections, warnings, outside


# -- the pipeline ----------------------------------------------------------------------------
Loader = Callable[[psycopg.Connection], tuple[int, list[Rejection], list[str]]]


def run_load(owner_dsn: str, source: str, millesime: int, path: Path, rows_read: int,
             read_rejections: list[Rejection], load: Loader, max_rejects: float = 0.0,
             fictif: bool = False, force: bool = False, digest: str | None = None,
             check_future: bool = True, layout=None, rows_outside: int = 0,
             absent: Iterable[str] = (), notes: Iterable[str] = ()) -> LoadSummary:
    """Run ``load(conn)`` in one transaction with the ledger, purge, proximity and publish.

    ``load`` stages and swaps the millésime; it returns (rows loaded, database
    rejections, warnings) or (…, rows skipped outside the territory). ``layout`` is the
    :class:`etl.layouts.Layout` detected, ``rows_outside`` the rows the reader already
    skipped outside the territory, ``absent`` our fields the file does not have: all three
    go to the report and to the load ledger.
    """
    started = time.monotonic()
    if check_future:
        check_millesime(path, millesime)
    digest = digest or file_digest(path)
    check_rejects(path, read_rejections, rows_read - rows_outside, max_rejects)
    summary = LoadSummary(source, millesime, str(path), rows_read=rows_read, rows_outside=rows_outside,
                          layout=layout.label if layout is not None else None, absent=list(absent))
    with connect(owner_dsn) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('etl'))")
            done = conn.execute("SELECT sha256 FROM core.load WHERE source = %s AND millesime = %s",
                                [source, millesime]).fetchone()
            if done and done[0] == digest and not force:
                summary.skipped = True
                summary.seconds = time.monotonic() - started
                return summary
            loaded, db_rejections, warnings, *more = load(conn)
            summary.rows_outside += more[0] if more else 0
            _analyze(conn, source)
            rejections = read_rejections + db_rejections
            check_rejects(path, rejections, rows_read - summary.rows_outside, max_rejects)
            record_load(conn, source, millesime, Path(path).name, digest, rows_read, loaded,
                        len(rejections), fictif, layout.key if layout is not None else None,
                        summary.rows_outside, summary.absent)
            from etl.retention import purge
            summary.purged = purge(conn, dry_run=False)
            if source in PROXIMITY_SOURCES:
                from etl.proximity import compute_proximity
                compute_proximity(conn, only=millesime if source == "rpls" else None)
            summary.data_version = publish(conn, f"{source} {millesime} ({Path(path).name})")
            summary.rows_loaded = loaded
            summary.rows_rejected = len(rejections)
            summary.rejections = rejections
            summary.warnings = list(notes) + list(warnings)
    summary.seconds = time.monotonic() - started
    return summary


def record_load(conn: psycopg.Connection, source: str, millesime: int, fichier: str, digest: str,
                rows_read: int, rows_loaded: int, rows_rejected: int, fictif: bool,
                disposition: str | None, rows_outside: int, absent: Iterable[str]) -> None:
    """One line of the load ledger per (source, millésime): the last load wins."""
    conn.execute(
        "INSERT INTO core.load (source, millesime, fichier, sha256, rows_read, rows_loaded,"
        " rows_rejected, fictif, disposition, rows_outside, champs_absents)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (source, millesime) DO UPDATE SET fichier = excluded.fichier,"
        " sha256 = excluded.sha256, rows_read = excluded.rows_read,"
        " rows_loaded = excluded.rows_loaded, rows_rejected = excluded.rows_rejected,"
        " fictif = excluded.fictif, disposition = excluded.disposition,"
        " rows_outside = excluded.rows_outside, champs_absents = excluded.champs_absents,"
        " loaded_at = now()",
        [source, millesime, fichier, digest, rows_read, rows_loaded, rows_rejected, fictif,
         disposition, rows_outside, list(absent)])


def _analyze(conn: psycopg.Connection, source: str) -> None:
    """Fresh statistics for the tables just swapped: later joins (proximity) plan on them."""
    from etl.retention import SOURCE_TABLES
    tables = [SOURCE_TABLES[source]] + (["residence"] if source == "rpls" else [])
    for t in tables:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier("core", t)))


def swap_millesime(conn: psycopg.Connection, table: tuple[str, str], millesime: int,
                   insert: sql.Composable, params: list | None = None) -> int:
    """Delete the millésime of ``table`` and run ``insert`` (an INSERT … SELECT from the stage)."""
    conn.execute(sql.SQL("DELETE FROM {} WHERE millesime = %s").format(sql.Identifier(*table)),
                 [millesime])
    cur = conn.execute(insert, params or [])
    return cur.rowcount
