"""The data dictionary as documents: an HTML page, Markdown and an XLSX workbook.

All three show the same rows (``rows()``): per theme its sources and update
rhythms, the scales of consultation and export, and per layer each field with
its French and English label, definition, unit and type. Each document
carries the source mention the convention requires.
"""
from __future__ import annotations

import io
from datetime import date

from jinja2 import Environment, select_autoescape

from data_dictionary.model import SCALE_LABELS, Dictionary, Scales, dictionary
from portail.settings import SOURCE_MENTION

TITLE = "Dictionnaire de données du portail des logements locatifs sociaux de la MEL"
TYPE_LABELS = {"string": "texte", "integer": "entier", "number": "nombre décimal",
               "boolean": "booléen", "date": "date"}
FIELD_COLUMNS = ("Thème", "Couche", "Champ", "Libellé", "Label (en)", "Définition",
                 "Definition (en)", "Unité", "Type", "Source", "Fichier", "Mise à jour",
                 "Échelles de consultation", "Échelles d'export")
SOURCE_COLUMNS = ("Thème", "Source", "Producteur", "Producer (en)", "Fichier",
                  "Mise à jour", "Échelles de consultation", "Échelles d'export")


def scale_list(values) -> str:
    return ", ".join(SCALE_LABELS[v]["fr"] for v in values) or "—"


def field_rows(dic: Dictionary) -> list[tuple[str, ...]]:
    rows = []
    for theme in dic.themes:
        for layer in theme.layers.values():
            for f in layer.fields.values():
                rows.append((theme.title.fr, layer.name, f.name, f.label.fr, f.label.en,
                             f.definition.fr, f.definition.en, f.unit.fr if f.unit else "",
                             TYPE_LABELS[f.type], f.source.producer.fr, f.source.file,
                             f.source.update_rhythm, scale_list(f.scales.consultation),
                             scale_list(f.scales.export)))
    return rows


def source_rows(dic: Dictionary) -> list[tuple[str, ...]]:
    return [(theme.title.fr, s.key, s.producer.fr, s.producer.en, s.file, s.update_rhythm,
             scale_list(theme.scales.consultation), scale_list(theme.scales.export))
            for theme in dic.themes for s in theme.sources.values()]


# -- Markdown ----------------------------------------------------------------------
def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(columns, rows) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows]
    return out


def to_markdown(dic: Dictionary | None = None) -> str:
    dic = dic or dictionary()
    lines = [f"# {TITLE}", "", f"*{SOURCE_MENTION}*", ""]
    for theme in dic.themes:
        lines += [f"## {theme.title.fr} ({theme.title.en})", "", theme.description.fr, "",
                  f"- Échelles de consultation : {scale_list(theme.scales.consultation)}",
                  f"- Échelles d'export : {scale_list(theme.scales.export)}", "",
                  "### Sources", ""]
        lines += _md_table(("Source", "Producteur", "Fichier", "Mise à jour"),
                           [(s.key, s.producer.fr, s.file, s.update_rhythm)
                            for s in theme.sources.values()])
        lines.append("")
        if not theme.layers:
            lines += ["*Aucune couche publiée pour l'instant.*", ""]
        for layer in theme.layers.values():
            lines += [f"### Couche `{layer.name}` — {layer.title.fr}", "",
                      layer.description.fr, "",
                      f"- Échelle : {SCALE_LABELS[layer.scale]['fr']} ; consultation : "
                      f"{scale_list(layer.scales.consultation)} ; export : "
                      f"{scale_list(layer.scales.export)}",
                      f"- Source : {layer.source.producer.fr} — {layer.source.file} "
                      f"(mise à jour : {layer.source.update_rhythm})",
                      f"- Millésime (paramètre `datetime`) : `{layer.time_field or '—'}`", ""]
            lines += _md_table(("Champ", "Libellé", "Définition", "Unité", "Type"),
                               [(f"`{f.name}`", f.label.fr, f.definition.fr,
                                 f.unit.fr if f.unit else "", TYPE_LABELS[f.type])
                                for f in layer.fields.values()])
            lines.append("")
    lines += [f"*{SOURCE_MENTION}*", ""]
    return "\n".join(lines)


# -- XLSX ------------------------------------------------------------------------------
def to_xlsx(dic: Dictionary | None = None) -> bytes:
    import xlsxwriter

    dic = dic or dictionary()
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": TITLE, "author": "Métropole Européenne de Lille",
                         "comments": SOURCE_MENTION})
    head = book.add_format({"bold": True, "bg_color": "#DDE6F0", "text_wrap": True,
                            "valign": "top", "border": 1})
    cell = book.add_format({"text_wrap": True, "valign": "top"})
    italic = book.add_format({"italic": True})
    for name, columns, rows in (("Champs", FIELD_COLUMNS, field_rows(dic)),
                                ("Sources", SOURCE_COLUMNS, source_rows(dic))):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, columns, head)
        for i, row in enumerate(rows, start=1):
            sheet.write_row(i, 0, row, cell)
        sheet.write(len(rows) + 2, 0, SOURCE_MENTION, italic)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
        for c in range(len(columns)):
            sheet.set_column(c, c, 40 if "finition" in columns[c] else 18)
    book.close()
    return buffer.getvalue()


# -- HTML ------------------------------------------------------------------------------
_HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%}
th,td{border:1px solid #c8ccd2;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#dde6f0} code{background:#f2f2f2;padding:0 .2rem}
.mention{font-style:italic} nav a{margin-right:1rem}
</style></head><body>
<h1>{{ title }}</h1>
<p class="mention">{{ mention }}</p>
<nav>Télécharger : <a href="{{ base }}/dictionnaire.md">Markdown</a>
<a href="{{ base }}/dictionnaire.xlsx">Excel (XLSX)</a></nav>
{% for theme in dic.themes %}
<section id="theme-{{ theme.name }}">
<h2>{{ theme.title.fr }} <small lang="en">({{ theme.title.en }})</small></h2>
<p>{{ theme.description.fr }}</p>
<p>Échelles de consultation : {{ scales(theme.scales.consultation) }} —
   échelles d'export : {{ scales(theme.scales.export) }}</p>
<h3>Sources</h3>
<table><tr><th>Source</th><th>Producteur</th><th>Fichier</th><th>Mise à jour</th></tr>
{% for s in theme.sources.values() %}<tr><td><code>{{ s.key }}</code></td>
<td>{{ s.producer.fr }}</td><td>{{ s.file }}</td><td>{{ s.update_rhythm }}</td></tr>
{% endfor %}</table>
{% if not theme.layers %}<p><em>Aucune couche publiée pour l'instant.</em></p>{% endif %}
{% for layer in theme.layers.values() %}
<h3 id="{{ layer.name }}">Couche <code>{{ layer.name }}</code> — {{ layer.title.fr }}</h3>
<p>{{ layer.description.fr }}</p>
<p>Échelle : {{ scale_labels[layer.scale].fr }} ; consultation : {{ scales(layer.scales.consultation) }} ;
export : {{ scales(layer.scales.export) }}. Source : {{ layer.source.producer.fr }} —
{{ layer.source.file }} (mise à jour : {{ layer.source.update_rhythm }}).
API : <a href="{{ base }}/collections/{{ layer.name }}">/collections/{{ layer.name }}</a></p>
<table><tr><th>Champ</th><th>Libellé</th><th>Label (en)</th><th>Définition</th><th>Unité</th><th>Type</th></tr>
{% for f in layer.fields.values() %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.label.fr }}</td>
<td lang="en">{{ f.label.en }}</td><td>{{ f.definition.fr }}</td>
<td>{{ f.unit.fr if f.unit else '' }}</td><td>{{ types[f.type] }}</td></tr>
{% endfor %}</table>
{% endfor %}
</section>
{% endfor %}
<p class="mention">{{ mention }} — {{ today }}</p>
</body></html>
"""
_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(_HTML)


def to_html(dic: Dictionary | None = None, base: str = "") -> str:
    return _template.render(dic=dic or dictionary(), title=TITLE, mention=SOURCE_MENTION,
                            base=base.rstrip("/"), scales=scale_list, scale_labels=SCALE_LABELS,
                            types=TYPE_LABELS, today=date.today().isoformat())


def to_pdf(dic: Dictionary | None = None, base: str = "") -> bytes:
    """The HTML dictionary printed by WeasyPrint (server side, nothing fetched): the PDF
    handed to every new account (and attached to its welcome letter)."""
    from weasyprint import HTML

    def no_fetch(url, *args, **kwargs):   # the page has no external asset: fetch nothing
        raise ValueError(f"ressource externe refusée : {url[:80]}")

    return HTML(string=to_html(dic, base=base), url_fetcher=no_fetch).write_pdf()


def scales_of(s: Scales) -> tuple[str, str]:
    return scale_list(s.consultation), scale_list(s.export)
