"""The public layouts of each source file, and their detection from the file itself.

A producer changes its layout over the years (RPLS: regional files in Latin-1, then the
DiDo exports with ``FINAN_CODE``, ``DEPCOM_CODE`` then ``DEPCOM``…). Each source module
declares its :class:`Layout` s, the most specific first; :func:`detect` picks the first
whose identifying columns (``signature``) are all in the file's header. The layout then says which of the producer's columns gives each of
our fields, which fields it has at all (a public file without the landlord or the rent
leaves them « non renseigné »), and what area the file covers: an extraction for the MEL
(a row of another commune is an error) or a departmental, regional or national file (rows
outside the MEL are skipped and counted).

No option is needed: the file says which layout it is. An unknown layout is refused with
what each known layout would need.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from etl.errors import Rejection, SourceFileError

# The area a file covers: rows outside the MEL are skipped (not "territoire").
AREAS = {"territoire": "extraction pour la MEL", "departement": "fichier départemental",
         "region": "fichier régional", "national": "fichier national",
         "reseau": "réseau de transport débordant du territoire"}


@dataclass(frozen=True)
class Layout:
    """One public layout of a source file."""
    key: str                       # stable identifier, recorded in the load ledger
    name: str                      # French name shown in reports
    reference: str                 # where the layout was seen / documented
    signature: tuple[str, ...]     # columns that identify it (all present)
    columns: dict[str, tuple[str, ...]]   # our field -> the layout's column names (or re:…)
    required: tuple[str, ...] = ()        # our fields whose column must be there
    area: str = "territoire"
    millesimes: str = ""                  # vintages published in this layout (documentation)
    encodings: tuple[str, ...] = ("utf-8", "cp1252")
    delimiters: tuple[str, ...] = (";",)
    exact_case: bool = False       # the signature's case identifies it (Filosofi 2017 vs 2019)
    notes: str = ""

    @property
    def outside_skipped(self) -> bool:
        return self.area != "territoire"

    @property
    def label(self) -> str:
        return f"{self.name} [{self.key}]"

    def column_for(self, name: str, header: list[str]) -> str | None:
        """The header column giving our field ``name`` in this layout (first alternative found)."""
        for wanted in self.columns.get(name, ()):
            found = match_column(wanted, header)
            if found:
                return found
        return None

    def resolve(self, header: list[str]) -> dict[str, str | None]:
        return {name: self.column_for(name, header) for name in self.columns}

    def absent(self, header: list[str], fields: tuple[str, ...]) -> list[str]:
        """Our ``fields`` this file does not have (not in the layout, or column missing)."""
        return [f for f in fields if self.column_for(f, header) is None]


def match_column(wanted: str, header: list[str], exact_case: bool = False) -> str | None:
    """The header column named ``wanted`` (case-insensitive), or matching ``re:<pattern>``."""
    if wanted.startswith("re:"):
        pattern = re.compile(wanted[3:], 0 if exact_case else re.IGNORECASE)
        return next((h for h in header if pattern.fullmatch(h.strip())), None)
    for h in header:
        if (h.strip() == wanted) if exact_case else (h.strip().upper() == wanted.upper()):
            return h
    return None


@dataclass
class Detected:
    layout: Layout
    columns: dict[str, str | None]
    absent: list[str] = field(default_factory=list)


def detect(path, header: list[str], layouts: tuple[Layout, ...], source: str,
           where: str = "ligne 1 (en-tête)") -> Detected:
    """The layout of a file from its header; refused with what each layout lacks."""
    header = [h.strip().lstrip("\ufeff") for h in header]
    matching = [lay for lay in layouts
                if all(match_column(c, header, lay.exact_case) for c in lay.signature)]
    if not matching:
        lines = []
        for lay in layouts:
            missing = [c for c in lay.signature if not match_column(c, header, lay.exact_case)]
            what = "colonne absente" if len(missing) == 1 else "colonnes absentes"
            lines.append(Rejection(where, None, f"disposition « {lay.name} » ({lay.millesimes}) : "
                                                f"{what} {', '.join(_shown(m) for m in missing)}"))
        raise SourceFileError(
            path, [Rejection(where, None, f"disposition de fichier {source} non reconnue (colonnes lues : "
                                          f"{', '.join(header[:12])}{'…' if len(header) > 12 else ''})")] + lines,
            hint="Chargez le fichier tel que publié par le producteur (voir docs/etl.md, "
                 "« Dispositions reconnues »).")
    layout = matching[0]   # layouts are declared most specific first
    columns = layout.resolve(header)
    missing = [Rejection(where, (layout.columns[f] or (f,))[0].removeprefix("re:"),
                         f"colonne absente (attendue : {' ou '.join(_shown(c) for c in layout.columns[f])} ; "
                         f"disposition « {layout.name} »)")
               for f in layout.required if columns.get(f) is None]
    if missing:
        raise SourceFileError(path, missing)
    return Detected(layout, columns)


def _shown(column: str) -> str:
    return column[3:] if column.startswith("re:") else column


def by_key(layouts: tuple[Layout, ...], key: str) -> Layout:
    return next(lay for lay in layouts if lay.key == key)


def exchange_layout(spec, key: str, name: str, reference: str, signature: tuple[str, ...]) -> Layout:
    """The one layout of a file exchanged with the MEL (not a producer's public file): the
    columns of ``spec``, every field's column required unless declared optional."""
    return Layout(key, name, reference, signature=signature,
                  columns={f.name: f.sources for f in spec.fields},
                  required=tuple(f.name for f in spec.fields if f.required),
                  area="territoire", millesimes="format du portail", delimiters=(";",))
