"""The channels audit: what the map, the sheets and the exports show is the published views.

The secrecy is applied once, in the diffusion views; the auditor (``portail.secret``)
attacks those views. A channel could still undo it: a map endpoint that filled a
blank with 0, a sheet that summed résidences into an IRIS, an export that wrote a
hidden figure from somewhere else. This module runs each channel's own code — the
map's data endpoint, the sheet builder, the export writer — over the published
data and checks every figure it emits against the view row it comes from: the
same value, and nothing where the view has nothing.

It lives with the command line (it imports the channels, which sit above the
secrecy engine) and reads as the service role, like the channels themselves.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

THEME_PREFIXES = ("parc_", "occupation_", "attributions_")
DIAGNOSTIC = "diagnostic_quartiers"
RESIDENCE_SAMPLE = 60         # résidences whose sheet is built (every territory is)


@dataclass
class ChannelOffence:
    channel: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"[{self.channel}] {self.where} — {self.what}"


def _same(shown, published) -> bool:
    if shown is None or published is None:
        return shown is None and published is None
    if isinstance(published, (int, float)) or hasattr(published, "as_integer_ratio"):
        try:
            return math.isclose(float(shown), float(published), rel_tol=1e-9, abs_tol=1e-6)
        except (TypeError, ValueError):
            return False
    return str(shown) == str(published)


def _published_layers(dic) -> dict:
    return {name: layer for name, layer in dic.layers.items()
            if name.startswith(THEME_PREFIXES) or name == DIAGNOSTIC}


def _view_rows(conn, layer) -> dict:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    rows = cur.execute(sql.SQL("SELECT * FROM {}").format(
        sql.Identifier("diffusion", layer.view))).fetchall()
    return {str(r[layer.id_field]): r for r in rows}


def _compare(offences, channel, where, shown: dict, row: dict | None) -> None:
    if row is None:
        offences.append(ChannelOffence(channel, where, "ligne absente des vues publiées"))
        return
    for name, value in shown.items():
        if name in row and not _same(value, row[name]):
            what = ("chiffre montré là où la vue n'en publie pas" if row[name] is None
                    else "chiffre différent de la vue publiée")
            offences.append(ChannelOffence(channel, where, f"{name} : {what}"))


def audit_map(conn, dic, views) -> list[ChannelOffence]:
    from carte.catalog import allowed_layers
    from carte.layers import MEL_BBOX, LayerRequest, layer_geojson
    offences = []
    for name, layer in allowed_layers(dic).items():
        if not views.get(name):
            continue
        numeric = tuple(f for f, d in layer.fields.items() if d.type in ("integer", "number"))
        years = sorted({r.get("millesime") for r in views[name].values()} - {None}) or [None]
        x0, y0, x1, y1 = MEL_BBOX
        boxes = [None] if layer.scale != "residence" else [
            (x0 + i * (x1 - x0) / 4, y0 + j * (y1 - y0) / 4,
             x0 + (i + 1) * (x1 - x0) / 4, y0 + (j + 1) * (y1 - y0) / 4)
            for i in range(4) for j in range(4)]
        for year in years:
            for box in boxes:
                request = LayerRequest(layer, year, 12, box, numeric, None)
                answer = json.loads(layer_geojson(request))
                if answer.get("truncated"):
                    offences.append(ChannelOffence("carte", f"{name} {year}",
                                                   "réponse tronquée : vérification partielle"))
                for feature in answer["features"]:
                    row = views[name].get(str(feature["id"]))
                    _compare(offences, "carte", f"{name} {feature['id']}",
                             feature["properties"], row)
    return offences


def audit_sheets(conn, dic, views) -> list[ChannelOffence]:
    from processes.fiche_data import read_fiche, theme_layer
    offences = []
    places = []
    for scale, view, column in (("commune", "parc_commune", "code"), ("iris", "parc_iris", "code"),
                                ("qpv", "parc_qpv", "code")):
        codes = sorted({r[column] for r in views.get(view, {}).values()})
        places += [(scale, c) for c in codes]
    residences = sorted({(r["residence_id"]) for r in views.get("parc_residence", {}).values()
                         if r.get("statut_secret") == "P"})
    hidden = sorted({(r["residence_id"]) for r in views.get("parc_residence", {}).values()
                     if r.get("statut_secret") == "S"})
    step = max(1, len(residences) // (RESIDENCE_SAMPLE // 2))
    places += [("residence", c) for c in residences[::step] + hidden[::max(1, len(hidden) // (
        RESIDENCE_SAMPLE // 2))]]
    by_code = {}
    for name, rows in views.items():
        for r in rows.values():
            code = r.get("residence_id") or r.get("code")
            by_code[(name, str(code), r.get("millesime"))] = r
    for scale, code in places:
        fiche = read_fiche(conn, dic, scale, code, None, date.today())
        for block in fiche.blocks:
            if block.millesime is None:
                continue
            for col, place in enumerate(fiche.columns):
                layer = theme_layer(dic, block.theme, place.scale)
                if layer is None or layer.name not in views:
                    continue
                row = by_code.get((layer.name, place.code, block.millesime))
                shown = {f.name: block.cells[f.name][col].value for f in block.fields
                         if block.cells[f.name][col].status is not None}
                if row is None and not shown:
                    continue
                _compare(offences, "fiche", f"{scale} {code} : {layer.name} {place.code} "
                         f"{block.millesime}", shown, row)
    return offences


def audit_exports(conn, dic, views) -> list[ChannelOffence]:
    from processes.export import ExportProcessor
    from processes.request import exportable, exported_fields
    from processes.workbook import column_title
    offences = []
    processor = ExportProcessor({"name": "export"})
    for name, layer in dic.layers.items():
        if not views.get(name) or not exportable(layer):
            continue
        years = sorted({r.get("millesime") for r in views[name].values()} - {None})
        data = {"layers": [name], "territory": "MEL", "format": "csv"}
        if years:
            data["millesime"] = years
        _, payload = processor.execute(data)
        text = payload.decode("utf-8-sig") if isinstance(payload, bytes) else payload
        lines = list(csv.reader(io.StringIO(text), delimiter=";"))
        fields = {column_title(f): f for f in exported_fields(layer)}
        header = lines[2]
        for line in lines[3:]:
            shown = {}
            for title, cell in zip(header, line):
                field = fields.get(title)
                if field is None:
                    continue
                if cell == "":
                    shown[field.name] = None
                elif field.type in ("integer", "number"):
                    shown[field.name] = float(cell.replace(",", "."))
                else:
                    shown[field.name] = cell
            key = str(shown.get(layer.id_field))
            row = views[name].get(key)
            shown = {k: v for k, v in shown.items()
                     if dic.layers[name].fields[k].type in ("integer", "number")}
            _compare(offences, "export", f"{name} {key}", shown, row)
    return offences


def audit_channels(service_dsn: str) -> list[ChannelOffence]:
    """Every channel's figures against the published views (service role)."""
    from data_dictionary.model import dictionary
    dic = dictionary()
    with psycopg.connect(service_dsn) as conn:
        views = {name: _view_rows(conn, layer) for name, layer in _published_layers(dic).items()}
        return audit_map(conn, dic, views) + audit_sheets(conn, dic, views) + \
            audit_exports(conn, dic, views)
