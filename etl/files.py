"""Files as users get them: ZIP archives, XLSX workbooks with title lines, text encodings.

:func:`open_tabular` turns a path into the text of one table (CSV as published, the CSV
member of a ZIP archive, or the sheet of an XLSX workbook), starting at its header line:
the title lines INSEE puts above the header are skipped and the line numbers of the
reports stay those of the file (``line_offset``). :func:`geo_path` gives GDAL the
vector file inside an archive. Nothing here touches the database.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from etl.errors import Rejection, SourceFileError

TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".tsv")
GEO_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml")
HEADER_SEARCH_LINES = 30
DELIMITERS = (";", ",", "\t", "|")


@dataclass
class TableText:
    """The text of a table, from its header line on."""
    data: str
    encoding: str
    line_offset: int = 0          # lines above the header (title lines), added to every line number
    member: str | None = None     # the archive member read, if any
    sheet: str | None = None      # the workbook sheet read, if any

    @property
    def origin(self) -> str:
        parts = [p for p in (self.member and f"membre {self.member}",
                             self.sheet and f"feuille {self.sheet}") if p]
        return ", ".join(parts)


OFFICE_SUFFIXES = (".xlsx", ".xlsm", ".ods")   # ZIP containers themselves, read as workbooks


def is_zip(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix == ".zip" or (suffix not in OFFICE_SUFFIXES and path.is_file() and zipfile.is_zipfile(path))


def refuse_7z(path: Path) -> None:
    if path.suffix.lower() in (".7z", ".rar"):
        raise SourceFileError(path, f"archive {path.suffix} non lue directement",
                              hint="Extrayez l'archive (7-Zip), puis chargez le fichier qu'elle contient "
                                   "(.shp, .gpkg ou .csv).")


def pick_member(path: Path, names: list[str], suffixes: tuple[str, ...],
                prefer: tuple[str, ...] = ()) -> str:
    """The one member of an archive with one of ``suffixes``; by name pattern when several."""
    candidates = [n for n in names if n.lower().endswith(suffixes) and not n.startswith("__MACOSX")
                  and not Path(n).name.startswith(".")]
    if len(candidates) > 1 and prefer:
        preferred = [n for n in candidates if any(re.search(p, Path(n).name, re.IGNORECASE) for p in prefer)]
        if len(preferred) == 1:
            return preferred[0]
    if len(candidates) == 1:
        return candidates[0]
    listed = ", ".join(names[:30]) + ("…" if len(names) > 30 else "")
    if not candidates:
        raise SourceFileError(path, [Rejection("archive", None, f"aucun fichier {'/'.join(suffixes)} dans "
                                                                f"l'archive (contenu : {listed})")])
    raise SourceFileError(path, [Rejection("archive", None, "plusieurs fichiers possibles dans l'archive : "
                                                            + ", ".join(candidates))],
                          hint="Extrayez celui à charger et donnez son chemin.")


def _read_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise SourceFileError(path, [Rejection("archive", None, f"archive zip tronquée ou illisible ({exc})")],
                              hint="Téléchargez de nouveau le fichier complet.") from None


def open_tabular(path: Path, encoding: str | None, is_known: Callable[[str], bool],
                 prefer: tuple[str, ...] = ()) -> TableText:
    """The table of ``path`` (CSV, ZIP holding one, XLSX), from its header line on.

    ``is_known(name)`` says whether a column name is one of the source's known columns;
    the header is the first line (among the first 30) with at least two known columns.
    """
    from etl.source import decode
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    refuse_7z(path)
    member = None
    if is_zip(path):
        with _read_zip(path) as z:
            member = pick_member(path, z.namelist(), TABLE_SUFFIXES, prefer)
            try:
                raw = z.read(member)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise SourceFileError(path, [Rejection("archive", member, f"membre illisible ({exc})")]) from None
        if member.lower().endswith(".xlsx"):
            table = read_xlsx(path, io.BytesIO(raw), is_known)
            table.member = member
            return table
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path, path, is_known)
    else:
        raw = path.read_bytes()
    if not raw.strip():
        raise SourceFileError(path, [Rejection("ligne 1", None, "fichier vide")])
    data, used = decode(path, raw, encoding)
    offset = header_offset(data, is_known)
    if offset:
        data = data.split("\n", offset)[offset]
    return TableText(data, used, offset, member)


def header_offset(data: str, is_known: Callable[[str], bool]) -> int:
    """Number of title lines above the header (0 when the first line is the header)."""
    lines = data.split("\n", HEADER_SEARCH_LINES + 1)[:HEADER_SEARCH_LINES]
    for i, line in enumerate(lines):
        line = line.rstrip("\r").lstrip("\ufeff")
        for d in DELIMITERS:
            try:
                cells = next(csv.reader([line], delimiter=d))
            except (csv.Error, StopIteration):
                continue
            if sum(1 for c in cells if c.strip() and is_known(c.strip())) >= 2:
                return i
    return 0


def cell_text(value) -> str:
    """A workbook cell as the text a CSV export would carry (59350.0 -> '59350')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def read_xlsx(path: Path, source, is_known: Callable[[str], bool]) -> TableText:
    """The sheet holding the table (the first with a recognised header), as ``;`` text.

    Title lines above the header are skipped; line numbers stay the sheet's row numbers.
    """
    import openpyxl
    try:
        wb = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is one message
        raise SourceFileError(path, f"classeur XLSX illisible ({exc.__class__.__name__})") from None
    try:
        tried = []
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            head: list[list[str]] = []
            for _ in range(HEADER_SEARCH_LINES):
                try:
                    head.append([cell_text(v) for v in next(rows)])
                except StopIteration:
                    break
            found = next((i for i, cells in enumerate(head)
                          if sum(1 for c in cells if c.strip() and is_known(c.strip())) >= 2), None)
            tried.append(ws.title)
            if found is None:
                continue
            out = io.StringIO()
            w = csv.writer(out, delimiter=";", lineterminator="\n")
            width = max(i + 1 for i, c in enumerate(head[found]) if c.strip())
            for cells in head[found:]:
                w.writerow((cells + [""] * width)[:width])
            for values in rows:
                w.writerow(([cell_text(v) for v in values] + [""] * width)[:width])
            return TableText(out.getvalue(), "xlsx", found, sheet=ws.title)
    finally:
        wb.close()
    raise SourceFileError(path, [Rejection("classeur", None, "aucune feuille avec un en-tête reconnu "
                                                             f"(feuilles : {', '.join(tried)})")])


def geo_path(path: Path, prefer: tuple[str, ...] = ()) -> str:
    """A path GDAL reads: the file itself, or the vector file inside a ZIP archive."""
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    refuse_7z(path)
    if is_zip(path):
        with _read_zip(path) as z:
            names = z.namelist()
        geo = [n for n in names if n.lower().endswith(GEO_SUFFIXES)]
        member = pick_member(path, names, GEO_SUFFIXES if geo else TABLE_SUFFIXES, prefer)
        return f"/vsizip/{path}/{member}"
    return str(path)
