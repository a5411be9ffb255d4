"""Writers of an export: XLSX (xlsxwriter, streaming) and CSV.

The XLSX writer runs in xlsxwriter's ``constant_memory`` mode: each row is
flushed to disk as soon as it is written, so memory stays flat whatever the
size of the export. Every sheet carries the source mention, the millésime and
the export date (convention d'accès, article on use).
"""
from __future__ import annotations

import csv
import io
import math
import re
from datetime import date
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from data_dictionary.model import SECRET_STATUSES, Field, Layer
from portail.settings import SOURCE_MENTION
from processes.request import ExportRequest, exported_fields
from processes.selection import LayerSelection

# The secrecy status codes (docs/secret.md), shown in the legend sheet.
STATUS_LEGEND = [(code, text["fr"]) for code, text in SECRET_STATUSES.items()]
BLANK_NOTE = "Une case vide n'est jamais un zéro : un zéro publié est écrit 0 (statut Z ou P)."
HEADER_ROW = 3          # 0-based: mention, millésime/date, blank, header
DICTIONARY_SHEET = "Dictionnaire"
LEGEND_SHEET = "Légende secret"
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8"}


def column_title(field: Field) -> str:
    """French column label, with the unit in brackets."""
    return f"{field.label.fr} ({field.unit.fr})" if field.unit else field.label.fr


def millesime_text(selections: list[LayerSelection]) -> str:
    years = sorted({m for s in selections for m in s.millesimes})
    return ", ".join(map(str, years)) if years else "sans objet"


def stamp(millesimes: str, exported: date) -> str:
    return f"Millésime : {millesimes} — exporté le {exported.strftime('%d/%m/%Y')}"


def sheet_name(layer: Layer, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", layer.name)[:31]
    name, n = base, 2
    while name.lower() in taken:
        suffix = f"_{n}"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _cell(value, field: Field):
    if value is None:
        return None
    if field.type == "boolean":
        return "oui" if value else "non"
    if field.type == "number":
        return float(value)
    return value


class _DataRows:
    """The data rows of one sheet, written straight into xlsxwriter's row file.

    In ``constant_memory`` mode xlsxwriter streams each finished row as XML to a
    temporary file; its generic per-cell path (argument conversion, a cell
    object, type dispatch, attribute escaping) costs most of an export's time.
    Data cells here are only numbers, dates and plain strings: their XML is
    built here, the same XML xlsxwriter writes for them (inline strings, the
    cell's number format), one ``write`` per row. Everything else on the sheet
    goes through the public API.
    """

    def __init__(self, ws, fields: list[Field], fmt: dict, first_row: int):
        if not ws.constant_memory:
            raise ValueError("constant_memory mode expected")
        ws._write_single_row(first_row)     # flush the rows held by xlsxwriter (header)
        self.ws, self.fields, self.first_row = ws, fields, first_row
        self.letters = [xl_col_to_name(j) for j in range(len(fields))]
        self.styles = []
        for field in fields:
            cell_format = fmt["date"] if field.type == "date" else fmt.get(field.type)
            self.styles.append(f' s="{cell_format._get_xf_index()}"' if cell_format else "")

    def write(self, rows) -> int:
        """Write the rows; returns the last row number written (first_row - 1 if none)."""
        ws, out = self.ws, self.ws.fh
        columns = list(zip(self.letters, self.styles, self.fields))
        escape_control, escape = ws._escape_control_characters, ws._escape_data
        i = self.first_row - 1
        for i, row in enumerate(rows, start=self.first_row):
            n = str(i + 1)
            cells = []
            for value, (letter, style, field) in zip(row, columns):
                if value is None:
                    continue
                value = _cell(value, field)
                if isinstance(value, str):
                    if not value:           # as xlsxwriter: an empty string is no cell
                        continue
                    text = escape(escape_control(value[:32767]))
                    space = ' xml:space="preserve"' if text[:1].isspace() \
                        or text[-1:].isspace() else ""
                    cells.append(f'<c r="{letter}{n}" t="inlineStr"><is><t{space}>{text}'
                                 "</t></is></c>")
                    continue
                if field.type == "date":
                    value = ws._convert_date_time(value)
                elif not math.isfinite(value):
                    continue
                cells.append(f'<c r="{letter}{n}"{style}><v>{value:.16G}</v></c>')
            if cells:
                out.write(f'<row r="{n}">{"".join(cells)}</row>')
        if i >= self.first_row:
            ws._check_dimensions(i, len(self.fields) - 1)
        return i


def write_xlsx(path: Path, request: ExportRequest, selections: list[LayerSelection],
               rows_of, exported: date) -> None:
    """Write the workbook; ``rows_of(selection)`` yields the rows of one layer.

    In constant_memory mode xlsxwriter spools each sheet's rows to a temporary file that
    only ``close()`` removes: they go to the folder of ``path``, which the caller owns and
    removes whatever happens (a cancelled job must leave no rows on disk).
    """
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent),
                                         "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": "Export du portail logement social de la MEL",
                       "comments": SOURCE_MENTION})
    fmt = {
        "mention": wb.add_format({"bold": True}),
        "stamp": wb.add_format({"italic": True}),
        "header": wb.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                 "bg_color": "#DCE6F1", "border": 1}),
        "integer": wb.add_format({"num_format": "#,##0"}),
        "number": wb.add_format({"num_format": "#,##0.0#"}),
        "date": wb.add_format({"num_format": "dd/mm/yyyy"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
    }
    when = stamp(millesime_text(selections), exported)
    taken = {DICTIONARY_SHEET.lower(), LEGEND_SHEET.lower()}

    def heading(ws, title: str) -> None:
        ws.write_string(0, 0, SOURCE_MENTION, fmt["mention"])
        ws.write_string(1, 0, f"{title} — {when}", fmt["stamp"])

    for sel in selections:
        ws = wb.add_worksheet(sheet_name(sel.layer, taken))
        fields = [sel.layer.fields[c] for c in sel.columns]
        heading(ws, f"{sel.layer.title.fr} — {request.territory.describe()}")
        for j, field in enumerate(fields):
            ws.set_column(j, j, max(12, min(40, len(column_title(field)) * 0.8)),
                          fmt.get(field.type))
        ws.set_row(HEADER_ROW, 45)
        for j, field in enumerate(fields):
            ws.write_string(HEADER_ROW, j, column_title(field), fmt["header"])
        ws.freeze_panes(HEADER_ROW + 1, 0)
        i = _DataRows(ws, fields, fmt, HEADER_ROW + 1).write(rows_of(sel))
        if i > HEADER_ROW:
            ws.autofilter(HEADER_ROW, 0, i, len(fields) - 1)

    ws = wb.add_worksheet(DICTIONARY_SHEET)
    heading(ws, "Dictionnaire des données exportées")
    headers = ["Couche", "Champ", "Libellé", "Unité", "Définition", "Source",
               "Fichier source", "Rythme de mise à jour"]
    for j, width in enumerate([22, 22, 30, 14, 60, 45, 40, 18]):
        ws.set_column(j, j, width, fmt["wrap"])
    for j, h in enumerate(headers):
        ws.write_string(HEADER_ROW, j, h, fmt["header"])
    ws.freeze_panes(HEADER_ROW + 1, 0)
    i = HEADER_ROW
    for sel in selections:
        for field in exported_fields(sel.layer):
            i += 1
            values = [sel.layer.title.fr, field.name, field.label.fr,
                      field.unit.fr if field.unit else "", field.definition.fr,
                      field.source.producer.fr, field.source.file, field.source.update_rhythm]
            for j, v in enumerate(values):
                ws.write_string(i, j, v)

    ws = wb.add_worksheet(LEGEND_SHEET)
    heading(ws, "Codes de statut du secret statistique")
    ws.set_column(0, 0, 10)
    ws.set_column(1, 1, 80)
    ws.write_string(HEADER_ROW, 0, "Code", fmt["header"])
    ws.write_string(HEADER_ROW, 1, "Signification", fmt["header"])
    for i, (code, meaning) in enumerate(STATUS_LEGEND, start=HEADER_ROW + 1):
        ws.write_string(i, 0, code)
        ws.write_string(i, 1, meaning)
    ws.write_string(HEADER_ROW + len(STATUS_LEGEND) + 2, 0, BLANK_NOTE)
    wb.close()


def write_csv(stream: io.TextIOBase, request: ExportRequest, sel: LayerSelection,
              rows_of, exported: date) -> None:
    """One layer as CSV (semicolon, for French spreadsheets); the mention comes first."""
    out = csv.writer(stream, delimiter=";", lineterminator="\r\n")
    out.writerow([SOURCE_MENTION])
    out.writerow([stamp(millesime_text([sel]), exported)])
    fields = [sel.layer.fields[c] for c in sel.columns]
    out.writerow([column_title(f) for f in fields])
    for row in rows_of(sel):
        out.writerow(["" if v is None else str(_cell(v, f)).replace(".", ",")
                      if f.type == "number" else _cell(v, f) for v, f in zip(row, fields)])
