"""Reading a tabular source file as published: encoding, delimiter, header, typed fields.

A source module declares a :class:`CsvSpec` (our field names, the producer's
column names, a parser per field); :func:`read_csv` checks the whole file and
returns typed rows with their physical line number, plus one
:class:`~etl.errors.Rejection` per bad value (file, line, field, reason).
Nothing here touches the database.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from etl.errors import Rejection, SourceFileError

# "Ã©" and friends: UTF-8 bytes of an accent decoded as Latin-1/CP1252, then re-encoded.
MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u017e]")
CODE_INSEE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
DELIMITERS = (";", ",", "\t", "|")
DELIMITER_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation", "|": "barre verticale"}


# -- parsers: str -> value, ValueError(reason in French) -----------------------------------
def text(value: str) -> str:
    return value.strip()


text.vector = "text"


def integer(value: str) -> int:
    v = value.strip().replace(" ", "")
    if re.fullmatch(r"-?[0-9]+(\.0+)?", v):
        return int(float(v)) if "." in v else int(v)
    raise ValueError(f"entier attendu, lu {value!r}")


def decimal(value: str) -> Decimal:
    v = value.strip().replace(" ", "").replace(",", ".")
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise ValueError(f"nombre attendu, lu {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"nombre attendu, lu {value!r}")
    return d


def floating(value: str) -> float:
    return float(decimal(value))


decimal.vector = "number"
floating.vector = "number"


def non_negative(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(value: str):
        v = parse(value)
        if v < 0:
            raise ValueError(f"valeur négative {value!r}")
        return v
    check.vector = getattr(parse, "vector", None)
    check.sql = getattr(parse, "sql", None)
    check.non_negative = True
    return check


SQL_LIMITS = {"smallint": (-32768, 32767), "integer": (-2147483648, 2147483647)}


def between(parse: Callable[[str], Any], lo, hi) -> Callable[[str], Any]:
    """``parse``, then the value must lie in [lo, hi] (the table's constraint, said early)."""
    def check(value: str):
        v = parse(value)
        if not lo <= v <= hi:
            raise ValueError(f"valeur {value.strip()!r} hors de l'intervalle [{lo}, {hi}]")
        return v
    check.vector = getattr(parse, "vector", None)
    check.sql = getattr(parse, "sql", None)
    check.bounds = (lo, hi)
    return check


def code_insee(value: str) -> str:
    v = value.strip()
    if len(v) == 4 and v.isdigit():  # leading zero lost by a spreadsheet
        v = "0" + v
    if not CODE_INSEE.match(v):
        raise ValueError(f"code commune INSEE invalide {value!r}")
    return v


integer.sql = "integer"


def padded(width: int, parse: Callable[[str], Any] = text) -> Callable[[str], Any]:
    """An identifier of ``width`` digits: leading zeros a spreadsheet dropped are put back.

    Only all-digit values shorter than ``width`` are padded (``1234`` -> ``01234`` for a
    width of 5); other values are kept as they are (a dwelling id ``C0001`` stays itself).
    """
    def pad(value: str):
        v = value.strip()
        if re.fullmatch(r"[0-9]+\.0+", v):
            v = v.split(".")[0]
        if v.isdigit() and len(v) < width:
            v = v.zfill(width)
        return parse(v)

    def twin(v, shown):
        from psycopg import sql as _sql
        t = _sql.SQL("regexp_replace({}, '^([0-9]+)\\.0+$', '\\1')").format(v)
        return (_sql.SQL("false"),
                _sql.SQL("CASE WHEN {t} ~ '^[0-9]+$' AND length({t}) < {w} THEN lpad({t}, {w}, '0') "
                         "ELSE {t} END").format(t=t, w=_sql.Literal(width)),
                _sql.SQL("''"))
    pad.sql_twin = twin
    pad.width = width
    return pad


def sentinel(parse: Callable[[str], Any], numbers) -> Callable[[str], Any]:
    """``parse``, but the producer's "not applicable" numbers (RPLS rent ``9999``) give None."""
    numbers = tuple(Decimal(str(n)) for n in numbers)

    def check(value: str):
        v = value.strip().replace(" ", "").replace(",", ".")
        try:
            if Decimal(v) in numbers:
                return None
        except InvalidOperation:
            pass
        return parse(value)
    for attr in ("vector", "sql", "bounds", "non_negative"):
        if hasattr(parse, attr):
            setattr(check, attr, getattr(parse, attr))
    check.sentinels = numbers
    return check


def year(value: str) -> int:
    v = integer(value)
    if not 1800 <= v <= 2100:
        raise ValueError(f"année invalide {value!r}")
    return v


def one_of(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        v = value.strip().upper()
        if v not in allowed:
            raise ValueError(f"valeur {value!r} hors de la liste ({', '.join(allowed)})")
        return v
    check.sql = "one_of"
    check.allowed = allowed
    return check


TRUE_VALUES = ("1", "o", "oui", "true", "vrai", "y", "yes")
FALSE_VALUES = ("0", "2", "n", "non", "false", "faux", "no")


def boolean(value: str) -> bool:
    v = value.strip().lower()
    if v in TRUE_VALUES:
        return True
    if v in FALSE_VALUES:
        return False
    raise ValueError(f"booléen attendu (1/0, oui/non), lu {value!r}")


year.sql = "year"
code_insee.sql = "code_insee"
boolean.sql = "boolean"


# -- spec ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One of our fields, read from the first source column present among ``sources``."""
    name: str
    sources: tuple[str, ...]
    parse: Callable[[str], Any] = text
    sqltype: str = "text"
    required: bool = True     # the column must be in the header
    nullable: bool = False    # an empty value is accepted (None)


@dataclass(frozen=True)
class CsvSpec:
    source: str                         # ledger name: 'rpls', 'bpe', …
    fields: tuple[Field, ...]
    delimiter: str | None = ";"       # None: detected among ; , tab |
    key: tuple[str, ...] = ()           # must be unique within the file
    header_skip: Callable[[list[str]], bool] | None = None


@dataclass
class ReadResult:
    path: Path
    header: list[str]
    columns: dict[str, str | None]      # our field -> source column used
    rows: list[tuple] = field(default_factory=list)   # (line, *values in spec order)
    rejections: list[Rejection] = field(default_factory=list)
    rows_read: int = 0
    encoding: str = "utf-8"
    layout: Any = None                  # the etl.layouts.Layout detected, if any
    rows_outside: int = 0               # rows skipped: outside the territory (national files)
    absent: list[str] = field(default_factory=list)   # our fields the file does not have
    notes: list[str] = field(default_factory=list)    # what the reader did (skipped rows…)

    @property
    def rejected_lines(self) -> set[int]:
        return {int(r.location.split()[-1]) for r in self.rejections if r.location.startswith("ligne")}


def decode(path: Path, raw: bytes, encoding: str | None) -> tuple[str, str]:
    """Decode the file: declared encoding, else UTF-8 (with or without BOM), else CP1252,
    else ISO-8859-1 (the five bytes CP1252 leaves undefined: a Latin-1 file)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw, encoding = raw[3:], encoding or "utf-8"
    candidates = [encoding] if encoding else ["utf-8", "cp1252", "latin-1"]
    for enc in candidates:
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError as exc:
            last = exc
            last_enc = enc
        except LookupError:
            raise SourceFileError(path, f"encodage inconnu {encoding!r}",
                                  hint="Exemples : utf-8, cp1252, latin-1.") from None
    line = raw[:last.start].count(b"\n") + 1
    bad = raw[last.start:last.start + 4]
    raise SourceFileError(
        path, [Rejection(f"ligne {line}", _column_at(raw, last.start),
                         f"octets {bad!r} invalides en {last_enc} (fichier Latin-1/CP1252 lu "
                         "comme UTF-8 ?)")],
        hint="Indiquez l'encodage du fichier avec --encoding cp1252 (ou latin-1).")


def _column_at(raw: bytes, offset: int) -> str | None:
    """Name of the header column holding byte ``offset`` (for a decoding error)."""
    header = raw.split(b"\n", 1)[0]
    delim = max((b";", b",", b"\t", b"|"), key=header.count)
    start = raw.rfind(b"\n", 0, offset) + 1
    position = raw[start:offset].count(delim)
    names = header.decode("ascii", "replace").strip().split(delim.decode())
    return names[position].strip() if position < len(names) else None


def _split_header(path: Path, first_line: str, expected: str | None,
                  known: set[str]) -> tuple[list[str], str]:
    if expected is None:  # any usual delimiter: the one that finds most known columns
        best = max(DELIMITERS, key=lambda d: len(known & {h.strip() for h in
                                                          next(csv.reader([first_line], delimiter=d))}))
        return next(csv.reader([first_line], delimiter=best)), best
    header = next(csv.reader([first_line], delimiter=expected))
    if len(header) > 1 and known & {h.strip() for h in header}:
        return header, expected
    for other in DELIMITERS:
        if other == expected:
            continue
        alt = next(csv.reader([first_line], delimiter=other))
        if len(alt) > 1 and known & {h.strip() for h in alt}:
            raise SourceFileError(path, [Rejection(
                "ligne 1", None, f"séparateur {DELIMITER_NAMES[other]} ({other!r}) au lieu de "
                                 f"{DELIMITER_NAMES[expected]} ({expected!r})")],
                hint="Enregistrez le fichier avec le séparateur du format publié.")
    return header, expected


def resolve_columns(path: Path, spec: CsvSpec, header: list[str]) -> dict[str, str | None]:
    """Our field -> the header column used; every required column must be there."""
    upper = {h.strip().upper(): h.strip() for h in header}
    columns, missing = {}, []
    for f in spec.fields:
        found = next((upper[s.upper()] for s in f.sources if s.upper() in upper), None)
        columns[f.name] = found
        if found is None and f.required:
            missing.append(Rejection("ligne 1 (en-tête)", f.sources[0],
                                     "colonne absente (attendue : " + " ou ".join(f.sources) + ")"))
    if missing:
        raise SourceFileError(path, missing)
    return columns


def read_csv(path: Path, spec: CsvSpec, encoding: str | None = None,
             text_data: str | None = None, line_offset: int = 0,
             skip: Callable[[list[str]], bool] | None = None) -> ReadResult:
    """Read and check every line; bad values become rejections, not exceptions.

    ``line_offset``: lines above the text (title lines, a workbook's rows), added to
    every line number reported. ``skip(cells)``: lines of a national file outside the
    territory, counted in ``rows_outside`` and never checked.
    """
    path = Path(path)
    if text_data is None:
        if not path.exists():
            raise SourceFileError(path, "fichier introuvable")
        raw = path.read_bytes()
        if not raw.strip():
            raise SourceFileError(path, [Rejection("ligne 1", None, "fichier vide")])
        data, used = decode(path, raw, encoding)
    else:
        data, used = text_data, encoding or "utf-8"
    if not data.strip():
        raise SourceFileError(path, [Rejection("ligne 1", None, "fichier vide")])

    first_line = data.split("\n", 1)[0].rstrip("\r")
    known = {s for f in spec.fields for s in f.sources}
    header, delimiter = _split_header(path, first_line, spec.delimiter, known)
    header = [h.strip() for h in header]
    columns: dict[str, str | None] = {}
    missing = []
    upper = {h.upper(): h for h in header}
    for f in spec.fields:
        found = next((upper[s.upper()] for s in f.sources if s.upper() in upper), None)
        columns[f.name] = found
        if found is None and f.required:
            missing.append(Rejection("ligne 1 (en-tête)", f.sources[0],
                                     "colonne absente (attendue : " + " ou ".join(f.sources) + ")"))
    if missing:
        raise SourceFileError(path, missing)

    result = ReadResult(path, header, columns, encoding=used)
    index = {h: i for i, h in enumerate(header)}
    plan = [(f, index[columns[f.name]] if columns[f.name] else None) for f in spec.fields]
    key_pos = [i for i, f in enumerate(spec.fields) if f.name in spec.key]
    seen: dict[tuple, int] = {}
    reader = csv.reader(io.StringIO(data), delimiter=delimiter)
    next(reader)
    width = len(header)
    for cells in reader:
        line = reader.line_num + line_offset
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        result.rows_read += 1
        where = f"ligne {line}"
        if len(cells) != width:
            result.rejections.append(Rejection(where, None, f"{len(cells)} champs au lieu de {width}"))
            continue
        if skip is not None and skip(cells):
            result.rows_outside += 1
            continue
        values = [line]
        bad = False
        for f, pos in plan:
            raw_value = cells[pos] if pos is not None else ""
            if MOJIBAKE.search(raw_value):
                result.rejections.append(Rejection(
                    where, columns[f.name], f"accents mal encodés {raw_value.strip()!r} "
                                            "(Latin-1/UTF-8 mélangés)"))
                bad = True
                continue
            if not raw_value.strip():
                if f.nullable:
                    values.append(None)
                    continue
                result.rejections.append(Rejection(where, columns[f.name] or f.sources[0],
                                                   "valeur obligatoire absente"))
                bad = True
                continue
            try:
                parsed = f.parse(raw_value)
                limits = SQL_LIMITS.get(f.sqltype)
                if limits and not limits[0] <= parsed <= limits[1]:
                    raise ValueError(f"valeur {raw_value.strip()!r} hors des limites du champ")
                values.append(parsed)
            except ValueError as exc:
                result.rejections.append(Rejection(where, columns[f.name], str(exc)))
                bad = True
        if bad:
            continue
        if key_pos:
            key = tuple(values[1 + i] for i in key_pos)
            if all(k is None for k in key):
                pass   # no identifier on this line: the line number stands for it
            elif key in seen:
                result.rejections.append(Rejection(
                    where, "+".join(columns[spec.fields[i].name] for i in key_pos),
                    f"identifiant {'/'.join(map(str, key))} déjà vu ligne {seen[key]}"))
                continue
            seen[key] = line
        result.rows.append(tuple(values))
    if result.rows_read == 0:
        raise SourceFileError(path, [Rejection(f"ligne {2 + line_offset}", None, "aucune ligne de données")])
    return result


# -- layouts ---------------------------------------------------------------------------------
def choose_delimiter(first_line: str, is_known: Callable[[str], bool]) -> str:
    """The usual delimiter that finds the most known columns in the header line."""
    def score(d: str) -> int:
        try:
            return sum(1 for h in next(csv.reader([first_line], delimiter=d)) if is_known(h.strip()))
        except csv.Error:
            return 0
    return max(DELIMITERS, key=score)


def known_columns(layouts) -> Callable[[str], bool]:
    """Whether a header cell is a column of one of ``layouts`` (names and ``re:`` patterns)."""
    from etl.layouts import match_column
    names = {c for lay in layouts for cols in lay.columns.values() for c in cols} | {
        c for lay in layouts for c in lay.signature}
    plain = {c.upper() for c in names if not c.startswith("re:")}
    patterns = [c for c in names if c.startswith("re:")]
    return lambda h: h.strip().lstrip("\ufeff").upper() in plain or any(match_column(p, [h]) for p in patterns)


def spec_for(spec: CsvSpec, detected) -> CsvSpec:
    """``spec`` read through a detected layout: each field from the layout's column;
    fields the file does not have are empty (None)."""
    fields = []
    for f in spec.fields:
        col = detected.columns.get(f.name)
        if col is None:
            fields.append(Field(f.name, (), f.parse, f.sqltype, required=False, nullable=True))
        else:
            fields.append(Field(f.name, (col,), f.parse, f.sqltype, required=True, nullable=f.nullable))
    return CsvSpec(spec.source, tuple(fields), spec.delimiter, spec.key, spec.header_skip)


def outside_filter(header: list[str], column: str | None, territory: set[str] | None):
    """``skip(cells)`` for :func:`read_csv`: a valid commune code that is not the territory's."""
    if not column or not territory:
        return None
    i = header.index(column)

    def skip(cells: list[str]) -> bool:
        v = cells[i].strip()
        if len(v) == 4 and v.isdigit():
            v = "0" + v
        return bool(CODE_INSEE.match(v)) and v not in territory
    return skip


def read_layout(path: Path, spec: CsvSpec, layouts, encoding: str | None = None,
                table=None, prefer: tuple[str, ...] = (), territory: set[str] | None = None) -> ReadResult:
    """Open the file as users get it (CSV, ZIP, XLSX), detect its layout, read every line.

    ``territory``: the communes of the MEL; for a departmental, regional or national layout
    the lines of other communes are skipped (counted) before any check."""
    from etl.files import open_tabular
    from etl.layouts import detect
    is_known = known_columns(layouts)
    table = table or open_tabular(Path(path), encoding, is_known, prefer)
    first = table.data.split("\n", 1)[0].rstrip("\r")
    delimiter = choose_delimiter(first, is_known)
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    where = f"ligne {1 + table.line_offset} (en-tête)"
    detected = detect(path, header, layouts, spec.source, where)
    check_delimiter(path, delimiter, detected.layout, where)
    skip = outside_filter(header, detected.columns.get("code_insee"), territory) \
        if detected.layout.outside_skipped else None
    result = read_csv(path, CsvSpec(spec.source, spec_for(spec, detected).fields, delimiter, spec.key),
                      text_data=table.data, line_offset=table.line_offset, skip=skip)
    result.encoding = table.encoding
    result.layout = detected.layout
    result.absent = [f.name for f in spec.fields if detected.columns.get(f.name) is None]
    if table.origin:
        result.notes.append(f"lu : {table.origin}")
    if table.line_offset:
        result.notes.append(f"{table.line_offset} ligne(s) de titre au-dessus de l'en-tête ignorée(s)")
    return result


def check_delimiter(path, delimiter: str, layout, where: str = "ligne 1") -> None:
    if delimiter not in layout.delimiters:
        expected = layout.delimiters[0]
        raise SourceFileError(path, [Rejection(
            where.replace(" (en-tête)", ""), None,
            f"séparateur {DELIMITER_NAMES[delimiter]} ({delimiter!r}) au lieu de "
            f"{DELIMITER_NAMES[expected]} ({expected!r}) (disposition « {layout.name} »)")],
            hint="Enregistrez le fichier avec le séparateur du format publié.")
