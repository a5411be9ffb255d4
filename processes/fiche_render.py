"""The descriptive sheet as HTML (self-contained), XLSX (xlsxwriter) and PDF (WeasyPrint).

Numbers are written the French way (12 345 ; 45,3 %) with the unit of the data
dictionary. A figure the published view does not give is written « secret »
(status S), « sans objet » (N), « rien à compter » (Z) or « non diffusé »,
with its status code and a legend: never as 0, never as a number, and never as
« under 11 » (a secret cell may hide a larger figure that protects another).
"""
from __future__ import annotations

import html
import io
from decimal import Decimal

import xlsxwriter

from portail.settings import SOURCE_MENTION
from processes.fiche_data import SCALES, STATUS_LEGEND, Cell, Fiche

NBSP = "\u00a0"
MIMETYPES = {"html": "text/html; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "pdf": "application/pdf"}
MAX_DECIMALS = 2
HIDDEN_NOTE = ("Un chiffre masqué n'est jamais un zéro, et ne veut pas forcément dire "
               "« moins de 11 ».")


def french_number(value) -> str:
    """12345 -> '12 345'; Decimal('45.3') -> '45,3' (the value's own decimals, at most 2)."""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        decimals = min(MAX_DECIMALS, max(0, -exponent)) if isinstance(exponent, int) else 0
        text = f"{value:,.{decimals}f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        return str(value)
    return text.replace(",", NBSP).replace(".", ",")


INVARIABLE = {"mois", "fois", "pas", "ans", "m", "%"}


def singular(unit: str) -> str:
    """« logements » -> « logement » (French: 0 and 1 take the singular)."""
    return " ".join(w[:-1] if w.endswith("s") and w not in INVARIABLE and len(w) > 3 else w
                    for w in unit.split(" "))


def with_unit(value, unit: str | None) -> str:
    number = french_number(value)
    if not unit or not isinstance(value, (int, float, Decimal)) or isinstance(value, bool):
        return number
    if abs(value) < 2 and unit not in INVARIABLE:
        unit = singular(unit)
    return f"{number}{NBSP}{unit}"


def hidden_text(cell: Cell) -> str:
    """The words written where a figure is not published."""
    if cell.status is None:
        return "pas de donnée publiée"
    if cell.status == "S":
        return "secret (S)"
    if cell.status == "Z":
        return "rien à compter (Z)"
    if cell.status == "N":
        return "sans objet (N)"
    return f"non diffusé ({cell.status})"


def cell_text(cell: Cell, unit: str | None) -> str:
    return hidden_text(cell) if cell.value is None else with_unit(cell.value, unit)


def stamp(fiche: Fiche) -> str:
    years = sorted({b.millesime for b in fiche.blocks if b.millesime is not None})
    shown = ", ".join(map(str, years)) if years else "aucun"
    return (f"Millésime : {shown} — exporté le {fiche.exported.strftime('%d/%m/%Y')}")


def _unit(field) -> str | None:
    return field.unit.fr if field.unit else None


# -- HTML ------------------------------------------------------------------------------
CSS = """
@page { size: A4; margin: 14mm 12mm 16mm;
        @bottom-right { content: "Page " counter(page) " / " counter(pages); font-size: 9px;
                        color: #4a4a4a; font-family: "DejaVu Sans", Arial, sans-serif; }
        @bottom-left { content: "Source : Portail cartographique des logements locatifs sociaux de la MEL";
                       font-size: 8px; color: #4a4a4a; font-family: "DejaVu Sans", Arial, sans-serif; } }
tr, dl.identite div, figure.situation { break-inside: avoid; page-break-inside: avoid; }
thead { display: table-header-group; }
h2 { break-after: avoid; page-break-after: avoid; }
figure.situation { float: right; margin: 0 0 .5rem 1rem; width: 11rem; }
figure.situation svg { width: 11rem; height: 11rem; border: 1px solid #c9d3df; background: #f7f9fb; }
figure.situation figcaption { font-size: .75rem; color: #4a4a4a; }
dl.identite { display: grid; grid-template-columns: max-content auto; gap: .1rem .8rem; margin: .4rem 0; }
dl.identite dt { color: #4a4a4a; }
dl.identite dd { margin: 0; font-weight: bold; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1d1d1d;
       margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; font-size: 14px; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; color: #00386b; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; color: #00386b;
     border-bottom: 2px solid #dce6f1; padding-bottom: .2rem; }
p.mention { font-weight: bold; margin: .2rem 0; }
p.stamp, p.note, p.sub { color: #4a4a4a; margin: .2rem 0; }
p.note { font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 .6rem; table-layout: fixed; }
tbody th { text-align: left; font-weight: normal; width: 34%; }
thead th:first-child { width: 34%; }
th, td { border: 1px solid #c9d3df; padding: .3rem .5rem; vertical-align: top; }
thead th { background: #dce6f1; text-align: left; }
td.v { text-align: right; white-space: nowrap; }
td.hidden { color: #7a2e00; font-style: italic; }
nav a { margin-right: 1rem; }
dl.legend { display: grid; grid-template-columns: 2.5rem auto; gap: .1rem .5rem; }
dl.legend dt { font-weight: bold; }
@media print { nav { display: none; } body { margin: 0; max-width: none; font-size: 10.5px; }
               td.v { white-space: normal; } }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def to_html(fiche: Fiche, links: dict[str, str] | None = None) -> str:
    """The whole page, with inline CSS and no external asset."""
    out = ["<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<link rel="icon" href="data:,">',   # no favicon request
           f"<title>Fiche — {_e(fiche.title)}</title><style>{CSS}</style></head><body>",
           f'<p class="mention">{_e(SOURCE_MENTION)}</p>',
           f"<h1>{_e(fiche.place.name)}</h1>",
           f'<p class="sub">Fiche descriptive — {_e(SCALES[fiche.place.scale])} '
           f"<code>{_e(fiche.place.code)}</code></p>",
           f'<p class="stamp">{_e(stamp(fiche))}</p>']
    if fiche.locator:
        out.insert(-3, _locator_svg(fiche))
    if fiche.identity:
        out.append('<dl class="identite">' + "".join(
            f"<div><dt>{_e(label)}</dt><dd>{_e(value)}</dd></div>" for label, value in fiche.identity)
            + "</dl>")
    if links:
        out.append("<nav>" + "".join(f'<a href="{_e(href)}">{_e(label)}</a>'
                                     for label, href in links.items()) + "</nav>")
    for note in fiche.notes:
        out.append(f'<p class="note">{_e(note)}</p>')
    for block in fiche.blocks:
        heading = block.title + (f" — millésime {block.millesime}" if block.millesime else "")
        if block.period:
            heading += f" (attributions cumulées {block.period})"
        out.append(f'<section data-theme="{_e(block.theme)}"><h2>{_e(heading)}</h2>')
        if block.note:
            out.append(f'<p class="note">{_e(block.note[0].upper() + block.note[1:])}.</p>')
        if block.note and all(c.status is None for cells in block.cells.values() for c in cells):
            out.append("</section>")
            continue
        out.append("<table><thead><tr><th>Indicateur</th>" + "".join(
            f'<th data-col="{i}">{_e(col.name)}</th>' for i, col in enumerate(fiche.columns))
            + "</tr></thead><tbody>")
        for field in block.fields:
            out.append(f'<tr data-field="{_e(field.name)}"><th scope="row" '
                       f'title="{_e(field.definition.fr)}">{_e(field.label.fr)}</th>')
            for i, cell in enumerate(block.cells[field.name]):
                klass = "v" if cell.value is not None else "v hidden"
                out.append(f'<td class="{klass}" data-col="{i}" '
                           f'data-status="{_e(cell.status or "")}">'
                           f"{_e(cell_text(cell, _unit(field)))}</td>")
            out.append("</tr>")
        out.append("</tbody></table></section>")
    if fiche.place.scale == "residence":
        out.append(_residence_html(fiche))
    out.append('<section><h2>Codes de statut du secret statistique</h2><dl class="legend">')
    for code, meaning in STATUS_LEGEND.items():
        out.append(f"<dt>{code}</dt><dd>{_e(meaning)}</dd>")
    out.append(f"</dl><p class=\"note\">{_e(HIDDEN_NOTE)} Les colonnes "
               "commune et MEL sont les chiffres publiés à ces échelles.</p></section>")
    out.append(f'<p class="mention">{_e(SOURCE_MENTION)}</p>'
               f'<p class="stamp">{_e(stamp(fiche))}</p></body></html>')
    return "\n".join(out)


def _locator_svg(fiche: Fiche) -> str:
    """The small locator map: an inline SVG (no request), described for screen readers."""
    loc = fiche.locator
    x, y, w, h = loc["viewbox"]
    stroke = loc["stroke"]
    out = [f'<figure class="situation"><svg viewBox="{x:.0f} {y:.0f} {w:.0f} {h:.0f}" '
           f'role="img" aria-labelledby="situation-titre" xmlns="http://www.w3.org/2000/svg">'
           f'<title id="situation-titre">Carte de situation : {_e(fiche.place.name)}</title>']
    for d in loc["communes"]:
        out.append(f'<path d="{_e(d)}" fill="#ffffff" stroke="#8a99a8" '
                   f'stroke-width="{stroke:.1f}"/>')
    target = loc["target"]
    if target:
        if target["kind"] == "POINT":
            out.append(f'<circle cx="{target["x"]:.0f}" cy="{target["y"]:.0f}" r="{w / 40:.0f}" '
                       f'fill="#c62828" stroke="#ffffff" stroke-width="{stroke * 2:.1f}"/>')
        else:
            out.append(f'<path d="{_e(target["d"])}" fill="#c62828" fill-opacity="0.55" '
                       f'stroke="#8e0000" stroke-width="{stroke * 2:.1f}"/>')
    out.append("</svg><figcaption>Situation dans "
               + ("la métropole" if fiche.place.scale == "commune" else "sa commune")
               + "</figcaption></figure>")
    return "".join(out)


def _residence_html(fiche: Fiche) -> str:
    out = ['<section data-theme="contexte"><h2>Environnement de la résidence</h2>']
    if fiche.proximity:
        out.append("<table><tbody>")
        for field, value in fiche.proximity:
            text = "—" if value is None else with_unit(value, _unit(field))
            out.append(f'<tr data-field="{_e(field.name)}"><th scope="row">'
                       f'{_e(field.label.fr)}</th><td class="v">{_e(text)}</td></tr>')
        out.append("</tbody></table>")
    out.append("<h2>Arrêts de transport les plus proches</h2>")
    if fiche.stops:
        out.append("<table><thead><tr><th>Arrêt</th><th>Mode</th><th>Distance</th></tr>"
                   "</thead><tbody>")
        for s in fiche.stops:
            out.append(f"<tr><td>{_e(s['stop_name'])}</td><td>{_e(s['mode_label'])}</td>"
                       f'<td class="v">{_e(with_unit(s["m"], "m"))}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append('<p class="note">Aucun arrêt publié.</p>')
    out.append(f"<h2>Équipements à moins de {french_number(500)} m</h2>")
    if fiche.equipments:
        out.append("<table><thead><tr><th>Équipement (BPE)</th><th>Domaine</th><th>Distance</th>"
                   "</tr></thead><tbody>")
        for e in fiche.equipments:
            out.append(f"<tr><td>{_e(e['type_label'])}</td><td>{_e(e['domaine_label'])}</td>"
                       f'<td class="v">{_e(with_unit(e["m"], "m"))}</td></tr>')
        out.append("</tbody></table>")
    else:
        out.append('<p class="note">Aucun équipement publié à moins de 500 m.</p>')
    out.append("</section>")
    return "\n".join(out)


# -- XLSX ------------------------------------------------------------------------------
def to_xlsx(fiche: Fiche) -> bytes:
    """One sheet « Fiche » (mention, millésime, export date on top) and the legend."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False,
                                      "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": f"Fiche — {fiche.title}", "comments": SOURCE_MENTION})
    bold = wb.add_format({"bold": True})
    italic = wb.add_format({"italic": True})
    title = wb.add_format({"bold": True, "font_size": 14})
    header = wb.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True,
                            "valign": "top"})
    hidden = wb.add_format({"italic": True, "font_color": "#7A2E00", "align": "right"})
    numbers = {0: wb.add_format({"num_format": "#,##0"}),
               1: wb.add_format({"num_format": "#,##0.0"}),
               2: wb.add_format({"num_format": "#,##0.00"})}
    ws = wb.add_worksheet("Fiche")
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 16)
    ws.set_column(2, 1 + len(fiche.columns), 24)
    ws.write_string(0, 0, SOURCE_MENTION, bold)
    ws.write_string(1, 0, f"Fiche — {fiche.title} — {stamp(fiche)}", italic)
    ws.write_string(3, 0, fiche.place.name, title)
    row = 4
    for label, value in fiche.identity:
        ws.write_string(row, 0, label)
        ws.write_string(row, 1, str(value), bold)
        row += 1
    for note in fiche.notes:
        ws.write_string(row, 0, note, italic)
        row += 1

    def number(r, c, value):
        exponent = Decimal(str(value)).as_tuple().exponent
        decimals = min(MAX_DECIMALS, max(0, -exponent)) if isinstance(exponent, int) else 0
        ws.write_number(r, c, float(value), numbers[decimals])

    for block in fiche.blocks:
        row += 1
        heading = block.title + (f" — millésime {block.millesime}" if block.millesime else "")
        if block.period:
            heading += f" (attributions cumulées {block.period})"
        ws.write_string(row, 0, heading, bold)
        row += 1
        if block.note:
            ws.write_string(row, 0, block.note[0].upper() + block.note[1:] + ".", italic)
            row += 1
            if all(c.status is None for cells in block.cells.values() for c in cells):
                continue
        for j, text in enumerate(["Indicateur", "Unité"] + [c.name for c in fiche.columns]):
            ws.write_string(row, j, text, header)
        row += 1
        for field in block.fields:
            ws.write_string(row, 0, field.label.fr)
            ws.write_string(row, 1, _unit(field) or "")
            for j, cell in enumerate(block.cells[field.name], start=2):
                if cell.value is None:
                    ws.write_string(row, j, hidden_text(cell), hidden)
                else:
                    number(row, j, cell.value)
            row += 1
    if fiche.place.scale == "residence":
        row += 1
        ws.write_string(row, 0, "Environnement de la résidence", bold)
        row += 1
        for field, value in fiche.proximity:
            ws.write_string(row, 0, field.label.fr)
            ws.write_string(row, 1, _unit(field) or "")
            if isinstance(value, (int, float, Decimal)):
                number(row, 2, value)
            elif value is not None:
                ws.write_string(row, 2, str(value))
            row += 1
        row += 1
        ws.write_string(row, 0, "Arrêts de transport les plus proches", bold)
        row += 1
        for j, text in enumerate(["Arrêt", "Mode", "Distance (m)"]):
            ws.write_string(row, j, text, header)
        for s in fiche.stops:
            row += 1
            ws.write_string(row, 0, s["stop_name"] or "")
            ws.write_string(row, 1, s["mode_label"] or "")
            number(row, 2, s["m"])
        row += 2
        ws.write_string(row, 0, "Équipements à moins de 500 m", bold)
        row += 1
        for j, text in enumerate(["Équipement (BPE)", "Domaine", "Distance (m)"]):
            ws.write_string(row, j, text, header)
        for e in fiche.equipments:
            row += 1
            ws.write_string(row, 0, e["type_label"] or "")
            ws.write_string(row, 1, e["domaine_label"] or "")
            number(row, 2, e["m"])
        row += 1
    row += 1
    ws.write_string(row, 0, "Codes de statut du secret statistique", bold)
    for code, meaning in STATUS_LEGEND.items():
        row += 1
        ws.write_string(row, 0, code)
        ws.write_string(row, 1, meaning)
    row += 2
    ws.write_string(row, 0, HIDDEN_NOTE, italic)
    row += 1
    ws.write_string(row, 0, SOURCE_MENTION, bold)
    ws.fit_to_pages(1, 0)
    ws.set_landscape()
    wb.close()
    return buffer.getvalue()


# -- PDF -------------------------------------------------------------------------------
def to_pdf(fiche: Fiche) -> bytes:
    """The HTML page printed by WeasyPrint (server side, no browser, no network)."""
    from weasyprint import HTML

    def no_fetch(url, *args, **kwargs):   # the page has no external asset: fetch nothing
        raise ValueError(f"ressource externe refusée : {url[:80]}")

    # Tagged PDF (PDF/UA-1 as far as WeasyPrint goes): structure tree, language, title.
    return HTML(string=to_html(fiche), url_fetcher=no_fetch).write_pdf(
        pdf_variant="pdf/ua-1", pdf_identifier=False)
