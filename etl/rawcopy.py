"""The fast path for large CSV files (RPLS): COPY the file as published, check in SQL.

The decoded file goes in one ``COPY … (FORMAT csv)`` into a TEMP table of text
columns numbered in file order; every field is then checked by the SQL twin of
its Python parser (same rules, same messages), bad lines are reported with
their line number and field, and the typed rows are inserted into the stage.
Files the fast path cannot number reliably (quotes, ragged lines, mixed
encodings) go through :func:`etl.source.read_csv`, which pinpoints those lines.
"""
from __future__ import annotations

from pathlib import Path

import click
import psycopg
from psycopg import sql

from etl import source as src
from etl.errors import Rejection
from etl.loading import progress_stream

V = sql.SQL("nullif(btrim(r.{}), '')")


def _lit(values) -> sql.Composable:
    return sql.SQL("ARRAY[{}]::text[]").format(sql.SQL(", ").join(sql.Literal(v) for v in values))


def _field_sql(f: src.Field, column: str) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    v = V.format(sql.Identifier(column))
    parse = f.parse
    kind = getattr(parse, "sql", None) or getattr(parse, "vector", None)
    shown = sql.SQL("quote_literal({})").format(v)
    if kind == "text":
        return sql.SQL("false"), v, sql.SQL("''")
    if kind in ("number", "integer"):
        if kind == "number":
            n = sql.SQL("replace(replace({}, ' ', ''), ',', '.')").format(v)
            fmt = sql.SQL("{} ~ '^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$'").format(n)
        else:
            n = v
            fmt = sql.SQL("{} ~ '^-?[0-9]+([.]0+)?$'").format(v)
        lo, hi = getattr(parse, "bounds", (None, None))
        if getattr(parse, "non_negative", False):
            lo = 0 if lo is None else max(lo, 0)
        limits = src.SQL_LIMITS.get(f.sqltype)
        if limits:
            lo = limits[0] if lo is None else max(lo, limits[0])
            hi = limits[1] if hi is None else min(hi, limits[1])
        ranges = []
        if lo is not None:
            ranges.append(sql.SQL("{}::numeric >= {}").format(n, sql.Literal(lo)))
        if hi is not None:
            ranges.append(sql.SQL("{}::numeric <= {}").format(n, sql.Literal(hi)))
        # CASE: the range is evaluated only on well-formed numbers
        ok = sql.SQL("CASE WHEN {fmt} THEN {rng} ELSE false END").format(
            fmt=fmt, rng=sql.SQL(" AND ").join(ranges) if ranges else sql.SQL("true"))
        cast = sql.SQL("{n}::numeric::{t}") if kind == "integer" else sql.SQL("{n}::{t}")
        return (sql.SQL("NOT ({})").format(ok), cast.format(n=n, t=sql.SQL(f.sqltype)),
                sql.SQL("'valeur invalide ' || {}").format(shown))
    if kind == "year":
        ok = sql.SQL("({v} ~ '^[0-9]{{4}}([.]0+)?$' AND {v}::numeric BETWEEN 1800 AND 2100)").format(v=v)
        return (sql.SQL("NOT coalesce({}, false)").format(ok),
                sql.SQL("{v}::numeric::smallint").format(v=v),
                sql.SQL("'année invalide ' || {}").format(shown))
    if kind == "code_insee":
        c = sql.SQL("CASE WHEN {v} ~ '^[0-9]{{4}}$' THEN '0' || {v} ELSE {v} END").format(v=v)
        return (sql.SQL("{} !~ '^[0-9][0-9AB][0-9]{{3}}$'").format(c), c,
                sql.SQL("'code commune INSEE invalide ' || {}").format(shown))
    if kind == "one_of":
        allowed = parse.allowed
        u = sql.SQL("upper({})").format(v)
        return (sql.SQL("{} <> ALL({})").format(u, _lit(allowed)), u,
                sql.SQL("'valeur ' || {} || {}").format(shown, sql.Literal(f" hors de la liste ({', '.join(allowed)})")))
    if kind == "boolean":
        low = sql.SQL("lower({})").format(v)
        return (sql.SQL("{} <> ALL({})").format(low, _lit(src.TRUE_VALUES + src.FALSE_VALUES)),
                sql.SQL("{} = ANY({})").format(low, _lit(src.TRUE_VALUES)),
                sql.SQL("'booléen attendu (1/0, oui/non), lu ' || {}").format(shown))
    custom = getattr(parse, "sql_twin", None)
    if custom:
        bad, value, reason = custom(v, shown)
        return bad, sql.SQL("({})::{}").format(value, sql.SQL(f.sqltype)), reason
    raise TypeError(f"pas d'équivalent SQL pour le champ {f.name}")


def field_sql(f: src.Field, column: str) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """(bad: boolean over a non-empty value, value: typed, reason: text) for the field's parser;
    the producer's "not applicable" numbers (``sentinels``) give NULL, like the Python parser."""
    bad, value, reason = _field_sql(f, column)
    numbers = getattr(f.parse, "sentinels", ())
    if numbers:
        v = V.format(sql.Identifier(column))
        n = sql.SQL("replace(replace({}, ' ', ''), ',', '.')").format(v)
        is_number = sql.SQL("{} ~ '^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$'").format(n)
        hit = sql.SQL("CASE WHEN {ok} THEN {n}::numeric = ANY({list}::numeric[]) ELSE false END").format(
            ok=is_number, n=n, list=sql.Literal([str(x) for x in numbers]))
        bad = sql.SQL("(NOT {hit} AND {bad})").format(hit=hit, bad=bad)
        value = sql.SQL("CASE WHEN {hit} THEN NULL ELSE {value} END").format(hit=hit, value=value)
    return bad, value, reason


class FastPathUnsuitable(Exception):
    """The database could not keep the file's line numbers: read it line by line instead."""


def fast_path_ok(data: str, header: list[str], delimiter: str) -> bool:
    """True when line numbers in the database can be the file's (no blank lines, no mangled
    accents; without quotes, the same number of fields on every line). Quoted files (the
    DiDo exports) are checked after the COPY: as many rows as lines."""
    import re
    body = data[data.find("\n") + 1:].strip("\r\n")
    n_lines = body.count("\n") + 1
    if re.search(r"\n[ \t\r]*\n", body):
        return False
    if ("Ã" in data or "Â" in data) and src.MOJIBAKE.search(data):
        return False
    if '"' in data:
        return True
    return body.count(delimiter) == (len(header) - 1) * n_lines


def copy_and_check(conn: psycopg.Connection, path: Path, spec: src.CsvSpec, data: str,
                   header: list[str], delimiter: str, columns: dict[str, str | None],
                   stage: str, stage_columns: list[tuple[str, str]],
                   prefilter: sql.Composable | None = None,
                   line_offset: int = 0) -> tuple[int, list[Rejection], int]:
    """COPY ``data`` into a raw table, check every field in SQL, insert the good rows typed
    into ``stage`` (created here). Returns (rows read, rejections, rows removed by ``prefilter``).

    ``prefilter`` is a condition over the raw row ``r`` (our SQL, no user input): the rows
    it matches are deleted before any check (rows outside the territory of a national
    file). Raises :class:`FastPathUnsuitable` (nothing kept) when the file's lines cannot
    be numbered by the database: a quoted field spanning lines, or a ragged line.
    """
    raw = f"{stage}_raw"
    body = data[data.find("\n") + 1:].strip("\r\n")
    expected = body.count("\n") + 1
    try:
        with conn.transaction():   # a savepoint: a refused COPY leaves nothing behind
            conn.execute(sql.SQL("CREATE TEMP TABLE {} (_n bigint GENERATED ALWAYS AS IDENTITY, {}) "
                                 "ON COMMIT DROP").format(
                sql.Identifier(raw), sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(h))
                                                        for h in header)))
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, DELIMITER {}, HEADER true)").format(
                sql.Identifier(raw), sql.SQL(", ").join(sql.Identifier(h) for h in header),
                sql.Literal(delimiter))
            encoded = data.encode("utf-8")
            chunk = 1 << 20
            with conn.cursor().copy(copy_sql) as copy, click.progressbar(
                    length=len(encoded), label=f"  {spec.source} : copie",
                    file=progress_stream(len(encoded), 8 << 20)) as bar:
                for i in range(0, len(encoded), chunk):
                    copy.write(encoded[i:i + chunk])
                    bar.update(min(chunk, len(encoded) - i))
            n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(raw))).fetchone()[0]
            if n != expected:
                raise FastPathUnsuitable(f"{n} enregistrements pour {expected} lignes")
    except psycopg.errors.BadCopyFileFormat as exc:
        raise FastPathUnsuitable(str(exc)) from None
    skipped = 0
    if prefilter is not None:
        skipped = conn.execute(sql.SQL("DELETE FROM {} r WHERE {}").format(sql.Identifier(raw), prefilter)).rowcount
    conditions, values = [], []
    for f in spec.fields:
        col = columns[f.name]
        if col is None:
            values.append(sql.SQL("NULL::{}").format(sql.SQL(f.sqltype)))
            continue
        v = V.format(sql.Identifier(col))
        bad, value, reason = field_sql(f, col)
        if not f.nullable:
            conditions.append(sql.SQL("{} IS NULL").format(v))
        if bad.as_string(conn) != "false":
            conditions.append(sql.SQL("({v} IS NOT NULL AND {bad})").format(v=v, bad=bad))
        values.append(value)
    # One scan finds the bad lines; the details are computed on those lines only.
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT _n FROM {} r WHERE {}").format(
        sql.Identifier(raw + "_bad"), sql.Identifier(raw),
        sql.SQL(" OR ").join(conditions) if conditions else sql.SQL("false")))
    # The few bad lines are explained by the Python parsers themselves (same messages).
    bad_rows = conn.execute(sql.SQL("SELECT r.* FROM {} r JOIN {} USING (_n) ORDER BY _n").format(
        sql.Identifier(raw), sql.Identifier(raw + "_bad"))).fetchall()
    rejections: list[Rejection] = []
    if bad_rows:
        import csv
        import io
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        for row in bad_rows:
            w.writerow(["" if v is None else v for v in row[1:]])
        checked = src.read_csv(path, spec.__class__(spec.source, spec.fields, delimiter),
                               text_data=buf.getvalue())
        lines = [row[0] + 1 + line_offset for row in bad_rows]
        for r in checked.rejections:
            k = int(r.location.split()[-1]) - 2
            rejections.append(Rejection(f"ligne {lines[k]}", r.field, r.reason))
    conn.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
        sql.Identifier(stage),
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in stage_columns)))
    names = [STAGE_NAMES.get(f.name, f.name) for f in spec.fields]
    conn.execute(sql.SQL("INSERT INTO {st} (_line, {names}) SELECT r._n + 1 + {off}, {values} FROM {raw} r "
                         "WHERE NOT EXISTS (SELECT 1 FROM {rb} b WHERE b._n = r._n)").format(
        st=sql.Identifier(stage), names=sql.SQL(", ").join(sql.Identifier(c) for c in names),
        off=sql.Literal(line_offset),
        values=sql.SQL(", ").join(values), raw=sql.Identifier(raw), rb=sql.Identifier(raw + "_bad")))
    if spec.key:
        rejections += duplicate_keys(conn, stage, spec, columns)
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(stage)))
    return n, rejections, skipped


STAGE_NAMES = {"x": "_x", "y": "_y", "epsg": "_epsg"}


def duplicate_keys(conn: psycopg.Connection, stage: str, spec: src.CsvSpec,
                   columns: dict[str, str | None]) -> list[Rejection]:
    """Delete the staged rows repeating a key seen on an earlier line (a key without any
    value is not an identity: the line number stands for it)."""
    keys = sql.SQL(", ").join(sql.Identifier(k) for k in spec.key)
    present = sql.SQL(" OR ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(k)) for k in spec.key)
    dups = conn.execute(sql.SQL(
        "DELETE FROM {st} s USING (SELECT _line, first_value(_line) OVER w AS first, "
        " row_number() OVER w AS k FROM {st} WHERE {present} "
        " WINDOW w AS (PARTITION BY {keys} ORDER BY _line)) d "
        "WHERE d._line = s._line AND d.k > 1 RETURNING s._line, d.first, {shown}").format(
        st=sql.Identifier(stage), keys=keys, present=present,
        shown=sql.SQL(" || '/' || ").join(sql.SQL("s.{}::text").format(sql.Identifier(k)) for k in spec.key)
    )).fetchall()
    field = "+".join(columns[k] or k for k in spec.key)
    return [Rejection(f"ligne {line}", field, f"identifiant {key} déjà vu ligne {first}")
            for line, first, key in sorted(dups)]
