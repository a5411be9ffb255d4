"""The export process on the live server (the committed config): communes, bad input."""
from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest

from portail.settings import SOURCE_MENTION

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def run(http, base, inputs, **kw):
    return http.post(f"{base}/processes/export/execution", json={"inputs": inputs}, **kw)


def test_the_process_is_listed_and_described(http, live_server):
    listed = http.get(f"{live_server}/processes", params={"f": "json"}).json()
    assert "export" in [p["id"] for p in listed["processes"]]
    desc = http.get(f"{live_server}/processes/export", params={"f": "json"}).json()
    assert set(desc["inputs"]) == {"layers", "territory", "millesime", "format"}


def test_the_process_needs_an_account(live_server):
    import requests
    resp = requests.post(f"{live_server}/processes/export/execution",
                         json={"inputs": {"layers": ["communes"]}})
    assert resp.status_code == 401


def test_communes_as_xlsx(http, live_server):
    resp = run(http, live_server, {"layers": ["communes"],
                                   "territory": {"communes": ["59350", "59512"]}})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith(XLSX)
    wb = openpyxl.load_workbook(io.BytesIO(resp.content))
    assert wb.sheetnames == ["communes", "Dictionnaire", "Légende secret"]
    today = date.today().strftime("%d/%m/%Y")
    for ws in wb.worksheets:
        assert ws["A1"].value == SOURCE_MENTION
        assert "Millésime : 2026" in ws["A2"].value and f"exporté le {today}" in ws["A2"].value
    ws = wb["communes"]
    assert ws.freeze_panes == "A5"
    header = [c.value for c in ws[4]]
    assert header[:2] == ["Code INSEE", "Nom"]
    assert "Population municipale (habitants)" in header
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5)]
    assert sorted(r[0] for r in rows) == ["59350", "59512"]
    assert {r[1] for r in rows} == {"Lille", "Roubaix"}
    pop = rows[0][header.index("Population municipale (habitants)")]
    assert isinstance(pop, int) and pop > 50_000
    assert ws.cell(5, header.index("Population municipale (habitants)") + 1).number_format == "#,##0"
    dic = [[c.value for c in r] for r in wb["Dictionnaire"].iter_rows(min_row=5)]
    assert ["Communes de la MEL", "population_municipale", "Population municipale",
            "habitants"] == dic[3][:4]
    assert all(r[7] == "annuel" for r in dic)
    legend = {r[0].value: r[1].value for r in wb["Légende secret"].iter_rows(min_row=5, max_row=8)}
    assert set(legend) == {"P", "S", "Z", "N"}     # one public secrecy code, never C
    # S never reads as « under 11 »: it may hide a larger figure that protects another.
    assert "moins de 11" in legend["S"] and "plus grand" in legend["S"]
    assert "ne veut donc pas dire « moins de 11 »" in legend["S"]
    assert "jamais un zéro" in wb["Légende secret"].cell(10, 1).value


def test_whole_mel_and_bbox(http, live_server):
    wb = openpyxl.load_workbook(io.BytesIO(run(http, live_server, {"layers": "communes"}).content))
    assert wb["communes"].max_row - 4 == 95
    # A small box around Lille's centre: selects the communes it touches, nothing summed.
    resp = run(http, live_server, {"layers": ["communes"],
                                   "territory": {"bbox": [3.05, 50.62, 3.08, 50.64]}})
    names = {r[1].value for r in openpyxl.load_workbook(io.BytesIO(resp.content))["communes"]
             .iter_rows(min_row=5)}
    assert "Lille" in names and 1 <= len(names) < 10


def test_csv_starts_with_the_mention(http, live_server):
    resp = run(http, live_server, {"layers": ["communes"], "format": "csv",
                                   "territory": {"communes": ["59350"]}})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    lines = resp.content.decode("utf-8-sig").splitlines()
    assert lines[0] == SOURCE_MENTION and lines[1].startswith("Millésime : 2026")
    assert lines[2].startswith("Code INSEE;Nom;")
    assert lines[3].startswith("59350;Lille;")


@pytest.mark.parametrize("inputs, expected", [
    ({"layers": ["nope"]}, "couche inconnue 'nope'"),
    ({}, "indiquez au moins une couche"),
    ({"layers": ["communes"], "territory": {"communes": ["59999"]}}, "code commune inconnu : 59999"),
    ({"layers": ["communes"], "territory": {"communes": ["abc"]}}, "code commune mal formé"),
    ({"layers": ["communes"], "territory": {"iris": ["593509999"]}}, "code IRIS inconnu"),
    ({"layers": ["communes"], "millesime": 2019}, "2019 non chargé pour la couche 'communes'"),
    ({"layers": ["communes"], "territory": {"bbox": [3, 50]}}, "territory.bbox"),
    ({"layers": ["communes"], "territory": {"bbox": [10, 40, 11, 41]}}, "ne recoupe pas"),
    ({"layers": ["communes"], "format": "pdf"}, "format : 'pdf' non pris en charge"),
    ({"layers": ["communes"], "colour": "red"}, "entrée inconnue : 'colour'"),
    ({"layers": ["communes"], "territory": {"ville": ["59350"]}}, "type de territoire inconnu"),
])
def test_bad_input_is_a_400_with_a_french_message(http, live_server, inputs, expected):
    resp = run(http, live_server, inputs)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert expected in body["description"], body


def test_an_injection_attempt_is_only_an_unknown_name(http, live_server):
    resp = run(http, live_server, {"layers": ["communes\"; DROP TABLE x; --"]})
    assert resp.status_code == 400 and "couche inconnue" in resp.json()["description"]
    assert run(http, live_server, {"layers": ["communes"]}).status_code == 200
