"""Code lists of the source files, per vintage, read from the data files of ``etl/codes/``.

A :class:`CodeList` maps a coded value of a file (``FINAN`` 13, ``QUALITE_XY`` B…) to
the value the portal stores (the financing family, the quality word…), for the vintage
(millésime) of the file. Unknown codes raise ``ValueError`` with the accepted codes, so
that the reader turns them into a rejection with file, line and field: never a guess.
Each parser also has a SQL twin (``sql_twin``) used by the COPY fast path
(:mod:`etl.rawcopy`), tested against the Python parser.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import yaml
from psycopg import sql

CODES_DIR = Path(__file__).resolve().parent / "codes"


ACCENTED, PLAIN = "àâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ", "aaaeeeeiioouuucAAAEEEEIIOOUUUC"
_UNACCENT = str.maketrans(ACCENTED, PLAIN)


def normalise(value: str) -> str:
    """Trim, drop the accents of French letters, upper-case, drop inner spaces;
    ``13.0`` (a spreadsheet) -> ``13``. The SQL twin does exactly the same."""
    v = re.sub(r"\s+", "", value.translate(_UNACCENT).upper())
    if re.fullmatch(r"[0-9]+\.0+", v):
        v = v.split(".")[0]
    return v


@dataclass(frozen=True)
class Vintage:
    first: int
    last: int | None
    codes: dict[str, dict]                 # normalised code -> {label, value}
    aliases: dict[str, str] = field(default_factory=dict)   # normalised alias -> code
    missing: tuple[str, ...] = ()          # normalised sentinels -> None
    missing_numbers: tuple[Decimal, ...] = ()

    def covers(self, millesime: int) -> bool:
        return self.first <= millesime and (self.last is None or millesime <= self.last)

    @property
    def span(self) -> str:
        return f"{self.first}–{self.last}" if self.last else f"depuis {self.first}"

    def mapping(self, give: str = "value") -> dict[str, Any]:
        """Every accepted normalised spelling -> stored value, or the canonical code with
        ``give="code"`` (None for a sentinel)."""
        pick = (lambda c: self.codes[c]["value"]) if give == "value" else (lambda c: c)
        out: dict[str, Any] = {c: pick(c) for c in self.codes}
        out.update({a: pick(c) for a, c in self.aliases.items()})
        out.update({m: None for m in self.missing})
        return out

    def values(self) -> dict[str, Any]:
        """Canonical code -> stored value."""
        return {c: d["value"] for c, d in self.codes.items()}


@dataclass(frozen=True)
class CodeList:
    key: str           # file stem: 'rpls_finan'
    name: str          # the producer's variable: 'FINAN'
    source: str
    vintages: tuple[Vintage, ...]

    def vintage(self, millesime: int) -> Vintage:
        found = [v for v in self.vintages if v.covers(millesime)]
        if not found:
            spans = ", ".join(v.span for v in self.vintages)
            raise ValueError(f"liste de codes {self.name} : aucun millésime {millesime} ({spans})")
        return found[-1]

    def accepted(self, millesime: int) -> str:
        return ", ".join(self.vintage(millesime).codes)

    def parser(self, millesime: int, give: str = "value") -> Callable[[str], Any]:
        """str -> stored value (or canonical code, ``give="code"``; None for a sentinel);
        ValueError naming the accepted codes."""
        vintage = self.vintage(millesime)
        if not vintage.codes:
            return self._sentinels_only(vintage)
        mapping = vintage.mapping(give)
        accepted = ", ".join(vintage.codes)
        name, span = self.name, vintage.span

        def parse(value: str):
            key = normalise(value)
            if key in mapping:
                return mapping[key]
            raise ValueError(f"code {value.strip()!r} inconnu pour {name} (millésime {millesime}, "
                             f"liste {span} ; codes acceptés : {accepted})")

        def twin(v: sql.Composable, shown: sql.Composable):
            key = _normalise_sql(v)
            table = sql.Literal(json.dumps(mapping))
            return (sql.SQL("NOT ({t}::jsonb ? {k})").format(t=table, k=key),
                    sql.SQL("({t}::jsonb ->> {k})").format(t=table, k=key),
                    sql.SQL("'code ' || {s} || {why}").format(
                        s=shown, why=sql.Literal(f" inconnu pour {name} (millésime {millesime}, liste "
                                                 f"{span} ; codes acceptés : {accepted})")))
        parse.sql_twin = twin
        parse.codelist = self
        return parse

    def _sentinels_only(self, vintage: Vintage) -> Callable[[str], Any]:
        """An open list (codes of another reference, e.g. QPV codes): only its sentinels
        ("outside", "no zoning") are read as missing; any other value is kept as written."""
        missing = set(vintage.missing)

        def parse(value: str):
            return None if normalise(value) in missing else value.strip()

        def twin(v: sql.Composable, shown: sql.Composable):
            return (sql.SQL("false"),
                    sql.SQL("CASE WHEN {k} = ANY({m}) THEN NULL ELSE {v} END").format(
                        k=_normalise_sql(v), m=sql.Literal(sorted(missing)), v=v),
                    sql.SQL("''"))
        parse.sql_twin = twin
        parse.codelist = self
        return parse

    def number_sentinels(self, millesime: int) -> tuple[Decimal, ...]:
        return self.vintage(millesime).missing_numbers


def _normalise_sql(v: sql.Composable) -> sql.Composable:
    """The SQL twin of :func:`normalise` (accents: the French letters of the lists)."""
    u = sql.SQL("regexp_replace(upper(translate({}, {}, {})), '\\s+', '', 'g')").format(
        v, sql.Literal(ACCENTED), sql.Literal(PLAIN))
    return sql.SQL("regexp_replace({}, '^([0-9]+)\\.0+$', '\\1')").format(u)


def _vintage(node: dict, where: str) -> Vintage:
    if not isinstance(node.get("from"), int):
        raise ValueError(f"{where} : millésime de début (from) attendu")
    codes = {normalise(str(k)): {"label": str(v["label"]), "value": v["value"]}
             for k, v in (node.get("codes") or {}).items()}
    aliases = {normalise(str(k)): normalise(str(v)) for k, v in (node.get("aliases") or {}).items()}
    unknown = [a for a, c in aliases.items() if c not in codes]
    if unknown:
        raise ValueError(f"{where} : alias vers un code absent ({', '.join(unknown)})")
    try:
        numbers = tuple(Decimal(str(n)) for n in node.get("missing_numbers") or ())
    except InvalidOperation:
        raise ValueError(f"{where} : missing_numbers doit être une liste de nombres") from None
    return Vintage(node["from"], node.get("to"), codes, aliases,
                   tuple(normalise(str(m)) for m in node.get("missing") or ()), numbers)


@lru_cache(maxsize=None)
def load(key: str) -> CodeList:
    """The code list ``etl/codes/<key>.yml`` (checked: a broken file names its place)."""
    path = CODES_DIR / f"{key}.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    vintages = tuple(_vintage(v, f"{path.name}, vintages[{i}]")
                     for i, v in enumerate(doc.get("vintages") or ()))
    if not vintages or not doc.get("source") or not doc.get("name"):
        raise ValueError(f"{path.name} : name, source et vintages sont obligatoires")
    return CodeList(key, str(doc["name"]), " ".join(str(doc["source"]).split()), vintages)


def all_lists() -> list[CodeList]:
    return [load(p.stem) for p in sorted(CODES_DIR.glob("*.yml"))]
