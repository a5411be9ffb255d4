"""The export process over theme layers with secrecy, on the small demo dataset.

The shipped dictionary may not declare the theme layers yet, so this module
writes a small theme file of its own over the real published views
(``diffusion.parc_*``), generates a pygeoapi config from it, and starts a
second real server on the demo database (``etl_fixtures.demo_small``).
"""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import openpyxl
import psycopg
from psycopg import sql
import pytest
import requests
import yaml

from etl_fixtures import demo_small, etl_settings  # noqa: F401 - fixtures
from data_dictionary.model import THEMES_DIR, load_dictionary
from data_dictionary.pygeoapi import generate_config
from portail import server
from ports import free_port
from portail.settings import SOURCE_MENTION, get_settings, load_settings

from conftest import make_state_dir

MAX_ROWS = 1500
LOGIN, PASSWORD = "agent.export", "export correct horse battery"

_FIELDS = """
      id: {type: string, label: {fr: Identifiant, en: Identifier}, definition: {fr: Code et millésime., en: Code and vintage.}}
      millesime: {type: integer, unit: {fr: année, en: year}, label: {fr: Millésime, en: Vintage}, definition: {fr: Année RPLS., en: RPLS year.}}
      statut_secret: {type: string, label: {fr: Statut du secret, en: Secrecy status}, definition: {fr: P S Z N., en: P S Z N.}}
      nb_logements: {type: integer, unit: {fr: logements, en: dwellings}, label: {fr: Logements sociaux, en: Social dwellings}, definition: {fr: Nombre de logements., en: Number of dwellings.}}
      part_plai: {type: number, unit: {fr: "%", en: "%"}, label: {fr: Part de PLAI, en: PLAI share}, definition: {fr: Part des PLAI., en: Share of PLAI.}}
      loyer_m2: {type: number, unit: {fr: €/m², en: €/m²}, label: {fr: Loyer moyen au m², en: Mean rent per m²}, definition: {fr: Loyer / surface., en: Rent / surface.}}
"""


def _layer(name, view, scale, code_fields, export):
    return f"""
  {name}:
    view: {view}
    scale: {scale}
    title: {{fr: Parc {scale}, en: Stock {scale}}}
    description: {{fr: Parc à l'échelle {scale}., en: Stock at {scale} scale.}}
    keywords: {{fr: [parc], en: [stock]}}
    source: rpls
    id_field: id
    time_field: millesime
    geometry: {"Point" if scale == "residence" else "MultiPolygon"}
    scales: {{consultation: [{scale}], export: [{scale if export else ""}]}}
    extent: {{bbox: [2.789, 50.5, 3.271, 50.794], first_millesime: 2020}}
    fields:{_FIELDS}{code_fields}"""


CODE = """      code: {type: string, label: {fr: Code, en: Code}, definition: {fr: Code du territoire., en: Territory code.}}
      code_insee: {type: string, label: {fr: Code INSEE de la commune, en: INSEE code}, definition: {fr: Commune., en: Commune.}}
"""
RESIDENCE = """      residence_id: {type: string, label: {fr: Résidence, en: Residence}, definition: {fr: Identifiant., en: Identifier.}}
      bailleur: {type: string, label: {fr: Bailleur, en: Landlord}, definition: {fr: Bailleur., en: Landlord.}}
      code_insee: {type: string, label: {fr: Code INSEE de la commune, en: INSEE code}, definition: {fr: Commune., en: Commune.}}
      code_iris: {type: string, label: {fr: Code IRIS, en: IRIS code}, definition: {fr: IRIS., en: IRIS.}}
"""
THEME = """theme: parc
order: 1
title: {fr: Parc locatif social, en: Social housing stock}
description: {fr: Parc de test., en: Test stock.}
scales: {consultation: [commune, iris, qpv, residence], export: [commune, iris, qpv, residence]}
sources:
  rpls:
    producer: {fr: SDES (RPLS), en: SDES (RPLS)}
    file: RPLS
    update_rhythm: annuel
layers:""" + _layer("parc_commune", "parc_commune", "commune", CODE, True) \
    + _layer("parc_iris", "parc_iris", "iris", CODE, True) \
    + _layer("parc_residence", "parc_residence", "residence", RESIDENCE, True) \
    + _layer("parc_qpv", "parc_qpv", "qpv", CODE, False) + "\n"


@pytest.fixture(scope="module")
def theme_server(demo_small, etl_settings, settings, tmp_path_factory):  # noqa: F811
    from auth.accounts import set_account
    themes = tmp_path_factory.mktemp("themes")
    shutil.copy(THEMES_DIR / "territoires.yml", themes / "territoires.yml")
    (themes / "parc.yml").write_text(THEME, encoding="utf-8")
    config = generate_config(load_dictionary(themes))
    config["resources"]["export"]["processor"].update(dictionary=str(themes), max_rows=MAX_ROWS)
    config_path = themes.parent / "pygeoapi-test.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    set_account(etl_settings.owner_dsn(), LOGIN, PASSWORD)
    state = make_state_dir("portail-export-")
    shutil.copy(settings.secrets_path, state / "secrets.json")
    # Starting a server regenerates its OpenAPI document in this process, which opens the
    # service pool through get_settings(): pin it to the session's settings first, so that
    # this process never keeps a pool on the demo database.
    get_settings()
    saved = dict(os.environ)
    os.environ.update(DATABASE_URL=etl_settings.database_url, PORTAIL_STATE_DIR=str(state),
                      PORT=str(free_port(18700)), PYGEOAPI_CONFIG=str(config_path))
    os.environ.pop("PORTAIL_URL", None)
    try:
        conf = load_settings()
        server.start(conf)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    session = requests.Session()
    session.auth = (LOGIN, PASSWORD)
    yield conf.public_url, session, etl_settings
    server.stop(conf, quiet=True)
    shutil.rmtree(state, ignore_errors=True)


def export(theme_server, inputs):
    base, session, _ = theme_server
    return session.post(f"{base}/processes/export/execution", json={"inputs": inputs})


def sheet_rows(ws) -> list[dict]:
    header = [c.value for c in ws[4]]
    return [dict(zip(header, (c.value for c in r))) for r in ws.iter_rows(min_row=5)]


def view_rows(settings, view, where="TRUE", params=()):
    with psycopg.connect(settings.service_dsn()) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        # `where` is a constant condition written in these tests, never input.
        return cur.execute(sql.SQL("SELECT * FROM {} WHERE {}").format(
            sql.Identifier("diffusion", view), sql.SQL(where)), params).fetchall()


FIGURES = ["Logements sociaux (logements)", "Part de PLAI (%)", "Loyer moyen au m² (€/m²)"]


def test_every_layer_every_millesime_and_no_hidden_value(theme_server):
    _, _, settings = theme_server
    loaded = sorted({r["millesime"] for r in view_rows(settings, "parc_commune")})
    assert len(loaded) >= 2
    resp = export(theme_server, {"layers": ["parc_commune", "parc_residence"],
                                 "millesime": loaded[-2:]})
    assert resp.status_code == 200, resp.text
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames == ["parc_commune", "parc_residence", "Dictionnaire", "Légende secret"]
    for ws in wb.worksheets:
        assert ws["A1"].value == SOURCE_MENTION
        assert f"Millésime : {loaded[-2]}, {loaded[-1]}" in ws["A2"].value
    statuses = set()
    for name in ("parc_commune", "parc_residence"):
        rows = sheet_rows(wb[name])
        expected = view_rows(settings, name, "millesime = ANY(%s)", [loaded[-2:]])
        assert len(rows) == len(expected) > 0
        for row in rows:
            statuses.add(row["Statut du secret"])
            assert row["Statut du secret"] in ("P", "S", "Z", "N"), row
            if row["Statut du secret"] == "S":
                assert [row[f] for f in FIGURES] == [None, None, None], row
            if row["Statut du secret"] == "Z":
                assert row["Logements sociaux (logements)"] in (0, None)
            if name == "parc_residence" and row["Statut du secret"] != "P":
                assert row["Bailleur"] is None and row["Code INSEE de la commune"] is None
    assert {"P", "S"} <= statuses, "the demo must contain hidden rows to test"


def test_codes_select_published_rows_they_never_sum(theme_server):
    _, _, settings = theme_server
    communes = view_rows(settings, "parc_commune", "statut_secret = 'P' ORDER BY nb_logements DESC")
    code, millesime = communes[0]["code"], communes[0]["millesime"]
    resp = export(theme_server, {"layers": ["parc_commune", "parc_iris", "parc_residence"],
                                 "territory": {"communes": [code]}, "millesime": millesime})
    assert resp.status_code == 200, resp.text
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    commune = sheet_rows(wb["parc_commune"])
    assert len(commune) == 1
    assert commune[0]["Logements sociaux (logements)"] == communes[0]["nb_logements"]
    iris = sheet_rows(wb["parc_iris"])
    published_iris = view_rows(settings, "parc_iris", "code_insee = %s AND millesime = %s",
                               [code, millesime])
    assert {r["Identifiant"] for r in iris} == {r["id"] for r in published_iris}
    for row in sheet_rows(wb["parc_residence"]):
        assert row["Code INSEE de la commune"] == code


def test_csv_of_a_layer_with_secrecy(theme_server):
    resp = export(theme_server, {"layers": ["parc_residence"], "format": "csv"})
    assert resp.status_code == 200, resp.text
    lines = resp.content.decode("utf-8-sig").splitlines()
    assert lines[0] == SOURCE_MENTION
    header = lines[2].split(";")
    status, figures = header.index("Statut du secret"), [header.index(f) for f in FIGURES]
    hidden = [line.split(";") for line in lines[3:] if line.split(";")[status] == "S"]
    assert hidden and all(row[i] == "" for row in hidden for i in figures)


@pytest.mark.parametrize("inputs, expected", [
    ({"layers": ["parc_qpv"]}, "n'est pas exportable"),
    ({"layers": ["parc_residence", "parc_commune"], "millesime": [2000]}, "2000 non chargé"),
    ({"layers": ["parc_residence", "parc_iris", "parc_commune"], "millesime": [2023, 2024, 2025]},
     "dépasse la taille maximale"),
    ({"layers": ["parc_commune"], "territory": {"qpv": ["QP059001"]}},
     "ne peut pas être choisie par codes QPV"),
    ({"layers": ["parc_commune", "communes"], "format": "csv"}, "une seule couche"),
])
def test_bad_input_on_theme_layers(theme_server, inputs, expected):
    resp = export(theme_server, inputs)
    assert resp.status_code == 400, resp.text
    assert expected in resp.json()["description"]

