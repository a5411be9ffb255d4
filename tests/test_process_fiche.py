"""The descriptive sheet (« fiche ») on the live server and the demo data.

Figures are checked against the published views (service role); a figure a
view does not give must never appear as a number in the sheet.
"""
from __future__ import annotations

import html
import io
import re
import subprocess
from datetime import date
from html.parser import HTMLParser

import openpyxl
import psycopg
import pytest
import requests
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from psycopg import sql
from psycopg.rows import dict_row

from data_dictionary.model import dictionary
from portail.settings import SOURCE_MENTION
from processes.fiche_data import KEY_INDICATORS, THEMES, theme_layer
from processes.fiche_render import french_number

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DIGIT = re.compile(r"\d")


class Cells(HTMLParser):
    """(theme, field, column) -> cell text, from the data-* attributes of the page."""

    def __init__(self):
        super().__init__()
        self.cells: dict[tuple[str, str, int], str] = {}
        self.headers: dict[str, list[str]] = {}
        self.theme = self.field = None
        self.col = None
        self.in_header = False
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.theme = a.get("data-theme")
        elif tag == "tr":
            self.field = a.get("data-field")
        elif tag in ("td", "th") and "data-col" in a:
            self.col, self.text = int(a["data-col"]), ""
            self.in_header = tag == "th"

    def handle_data(self, data):
        if self.col is not None:
            self.text += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.col is not None:
            if self.in_header:
                self.headers.setdefault(self.theme, []).append(self.text)
            else:
                self.cells[(self.theme, self.field, self.col)] = self.text
            self.col = None


def parse(page: str) -> Cells:
    parser = Cells()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def service(settings, live_server):
    with psycopg.connect(settings.service_dsn(), autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(scope="module")
def session(live_server, account):
    s = requests.Session()
    s.auth = account
    return s


def one(conn, query, params=()):
    return conn.execute(query, params).fetchone()


def latest(conn, view):
    return one(conn, sql.SQL("SELECT max(millesime) AS m FROM {}").format(
        sql.Identifier("diffusion", view)))["m"]


def view_row(conn, theme, scale, code, millesime):
    layer = theme_layer(dictionary(), theme, scale)
    key = "residence_id" if scale == "residence" else "code"
    return one(conn, sql.SQL("SELECT * FROM {} WHERE {} = %s AND millesime = %s").format(
        sql.Identifier("diffusion", layer.view), sql.Identifier(key)), [code, millesime])


def fiche(session, base, scale, code, **params):
    return session.get(f"{base}/fiche/{scale}/{code}", params=params, timeout=60)


def test_commune_sheet_beside_the_mel(session, live_server, service):
    year = latest(service, "parc_commune")
    row = one(service, "SELECT code, nom, nb_logements FROM diffusion.parc_commune "
                       "WHERE statut_secret = 'P' AND millesime = %s "
                       "ORDER BY nb_logements DESC LIMIT 1", [year])
    mel = one(service, "SELECT nb_logements FROM diffusion.parc_mel WHERE millesime = %s", [year])
    resp = fiche(session, live_server, "commune", row["code"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    page = resp.text
    assert f"<h1>{row['nom']}</h1>" in page
    assert SOURCE_MENTION in page
    assert f"exporté le {date.today():%d/%m/%Y}" in page and f"millésime {year}" in page
    cells = parse(page)
    assert cells.headers["parc"] == [row["nom"], "Métropole Européenne de Lille"]
    assert cells.cells[("parc", "nb_logements", 0)] == f"{french_number(row['nb_logements'])}\u00a0logements"
    assert cells.cells[("parc", "nb_logements", 1)] == f"{french_number(mel['nb_logements'])}\u00a0logements"
    assert "\u00a0" in french_number(mel["nb_logements"]), "the MEL total has thousands"
    # no external asset: no stylesheet, script, image, url(...) or absolute address
    assert not re.search(r"stylesheet|<script|<img|url\(|src=|href=\"(http|//)", page)


def test_iris_sheet_has_three_columns(session, live_server, service):
    year = latest(service, "parc_iris")
    row = one(service, "SELECT i.code, i.nom, c.nom AS commune FROM diffusion.parc_iris i "
                       "JOIN diffusion.commune c ON c.code_insee = i.code_insee "
                       "WHERE i.statut_secret = 'P' AND i.millesime = %s LIMIT 1", [year])
    cells = parse(fiche(session, live_server, "iris", row["code"]).text)
    assert cells.headers["parc"] == [row["nom"], row["commune"], "Métropole Européenne de Lille"]
    assert cells.headers["attributions"][1:] == [row["commune"], "Métropole Européenne de Lille"]
    # percentages the French way: 45,3 %
    assert re.fullmatch(r"\d+,\d\u00a0%", cells.cells[("parc", "taux_vacance", 2)])


def test_hidden_residence_shows_no_figure(session, live_server, service):
    year = latest(service, "parc_residence")
    hidden = one(service, "SELECT residence_id FROM diffusion.parc_residence WHERE millesime = %s "
                          "AND statut_secret = 'S' ORDER BY residence_id LIMIT 1", [year])
    assert hidden, "the demo data must have a résidence under secrecy"
    resp = fiche(session, live_server, "residence", hidden["residence_id"])
    assert resp.status_code == 200, resp.text
    cells = parse(resp.text)
    own = {k: v for k, v in cells.cells.items() if k[2] == 0}
    assert own and all(not DIGIT.search(text) for text in own.values()), own
    assert any(text == "secret (S)" for text in own.values())
    page = html.unescape(resp.text)
    assert "Jamais publié à l'échelle résidence" in page   # attributions
    # The legend: one public secrecy code, and S never read as « under 11 ».
    assert re.findall(r"<dt>(\w+)</dt>", resp.text) == ["P", "S", "Z", "N"]
    assert "ne veut donc pas dire « moins de 11 »" in page
    assert "Arrêts de transport les plus proches" in resp.text


def test_published_residence_with_its_stops_and_equipment(session, live_server, service):
    year = latest(service, "parc_residence")
    row = one(service, "SELECT residence_id, nb_logements, c.nom AS commune "
                       "FROM diffusion.parc_residence r JOIN diffusion.commune c USING (code_insee) "
                       "WHERE r.millesime = %s AND r.statut_secret = 'P' "
                       "ORDER BY nb_logements DESC LIMIT 1", [year])
    resp = fiche(session, live_server, "residence", row["residence_id"])
    cells = parse(resp.text)
    assert cells.cells[("parc", "nb_logements", 0)] == \
        f"{french_number(row['nb_logements'])}\u00a0logements"
    assert cells.headers["parc"][1] == row["commune"]
    stop = one(service, "SELECT a.stop_name FROM diffusion.arrets_transport a, "
                        "(SELECT geom FROM diffusion.parc_residence WHERE residence_id = %s "
                        " AND millesime = %s) r WHERE a.millesime = (SELECT max(millesime) "
                        "FROM diffusion.arrets_transport) ORDER BY a.geom <-> r.geom LIMIT 1",
               [row["residence_id"], year])
    assert stop["stop_name"] in resp.text


def _territories(conn) -> list[tuple[str, str]]:
    out = []
    for scale, view, key in (("commune", "parc_commune", "code"), ("iris", "parc_iris", "code"),
                             ("qpv", "parc_qpv", "code"),
                             ("residence", "parc_residence", "residence_id")):
        rows = conn.execute(sql.SQL(
            "SELECT DISTINCT {k} AS code, statut_secret FROM {v} WHERE millesime = "
            "(SELECT max(millesime) FROM {v}) ORDER BY 1 LIMIT 200").format(
            k=sql.Identifier(key), v=sql.Identifier("diffusion", view))).fetchall()
        out += [(scale, r["code"]) for r in rows]
    return out


def test_no_number_for_a_hidden_cell_over_territories(session, live_server, service):
    """For every territory drawn: a key figure the view gives is shown as that number,
    a figure it does not give (secrecy, nothing to count, not applicable) has no digit."""
    territories = _territories(service)
    latest_of = {(t, s): latest(service, theme_layer(dictionary(), t, s).view)
                 for t in THEMES for s in ("commune", "iris", "qpv", "residence")
                 if theme_layer(dictionary(), t, s)}
    seen = {"hidden": 0, "shown": 0}

    @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(territories))
    def check(territory):
        scale, code = territory
        cells = parse(fiche(session, live_server, scale, code).text).cells
        for theme in THEMES:
            if (theme, scale) not in latest_of:
                assert not any(k[0] == theme for k in cells)
                continue
            row = view_row(service, theme, scale, code, latest_of[(theme, scale)])
            for name, _ in KEY_INDICATORS[theme]:
                text = cells[(theme, name, 0)]
                value = None if row is None else row[name]
                if value is None:
                    assert not DIGIT.search(text), (territory, theme, name, text)
                    seen["hidden"] += 1
                else:
                    assert text.startswith(french_number(value)), (territory, name, text)
                    seen["shown"] += 1

    check()
    assert seen["hidden"] and seen["shown"]


@pytest.mark.parametrize("path, params, status, message", [
    ("/fiche/commune/59999", {}, 404, "commune inconnue : 59999"),
    ("/fiche/iris/999999999", {}, 404, "IRIS inconnu"),
    ("/fiche/residence/RNEXISTEPAS", {}, 404, "résidence inconnue"),
    ("/fiche/ville/59350", {}, 400, "échelle inconnue"),
    ("/fiche/commune/5935", {}, 400, "code commune mal formé"),
    ("/fiche/commune/59350", {"millesime": "2001"}, 404, "millésime 2001 non chargé"),
    ("/fiche/commune/59350", {"millesime": "deux mille"}, 400, "année attendue"),
    # str.isdigit() accepts these; int() fails on « ² » and reads fullwidth digits
    ("/fiche/commune/59350", {"millesime": "²"}, 400, "année attendue"),
    ("/fiche/commune/59350", {"millesime": "２０２５", "f": "xlsx"}, 400, "année attendue"),
    ("/fiche/commune/59350", {"f": "docx"}, 400, "format 'docx' non pris en charge"),
])
def test_bad_requests_get_a_french_message(session, live_server, path, params, status, message):
    resp = session.get(f"{live_server}{path}", params=params)
    assert resp.status_code == status, resp.text
    assert message in resp.text


def test_the_sheet_needs_an_account(live_server):
    assert requests.get(f"{live_server}/fiche/commune/59350").status_code == 401


def test_xlsx_sheet(session, live_server, service):
    year = latest(service, "parc_residence")
    hidden = one(service, "SELECT residence_id FROM diffusion.parc_residence WHERE millesime = %s "
                          "AND statut_secret = 'S' ORDER BY residence_id LIMIT 1", [year])
    resp = fiche(session, live_server, "residence", hidden["residence_id"], f="xlsx")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == XLSX
    assert "attachment" in resp.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(resp.content))["Fiche"]
    assert ws["A1"].value == SOURCE_MENTION
    assert f"exporté le {date.today():%d/%m/%Y}" in ws["A2"].value
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    logements = next(r for r in rows if r[0] == "Logements sociaux")
    assert logements[2] == "secret (S)" and isinstance(logements[3], (int, float))
    start = next(i for i, r in enumerate(rows) if r[0] == "Codes de statut du secret statistique")
    assert [r[0] for r in rows[start + 1:start + 5]] == ["P", "S", "Z", "N"]
    assert rows[start + 5][0] is None and "moins de 11" in rows[start + 6][0]
    header = next(r for r in rows if r[0] == "Indicateur")
    assert header[3] == "Métropole Européenne de Lille"


def test_pdf_sheet(session, live_server, tmp_path):
    resp = fiche(session, live_server, "commune", "59350", f="pdf")
    assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
    (tmp_path / "f.pdf").write_bytes(resp.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "f.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Lille" in text and "Portail cartographique des logements locatifs" in text
    assert "Logements sociaux" in text


def test_the_process_gives_the_same_sheet(session, live_server):
    listed = session.get(f"{live_server}/processes", params={"f": "json"}).json()
    assert "fiche" in [p["id"] for p in listed["processes"]]
    resp = session.post(f"{live_server}/processes/fiche/execution",
                        json={"inputs": {"scale": "commune", "code": "59350"}})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "<h1>Lille</h1>" in resp.text and SOURCE_MENTION in resp.text
    bad = session.post(f"{live_server}/processes/fiche/execution",
                       json={"inputs": {"scale": "qpv", "code": "QP000000"}})
    assert bad.status_code == 400 and "QPV inconnu" in bad.json()["description"]


def test_the_sheet_in_a_real_browser(browser_page, live_server, service, tmp_path):
    year = latest(service, "parc_iris")
    row = one(service, "SELECT code, nom FROM diffusion.parc_iris WHERE statut_secret = 'P' "
                       "AND millesime = %s LIMIT 1", [year])
    page = browser_page
    resp = page.goto(f"{live_server}/fiche/iris/{row['code']}")
    assert resp.status == 200
    assert page.locator("h1").inner_text() == row["nom"]
    headers = page.locator("section[data-theme=parc] thead th").all_inner_texts()
    assert len(headers) == 4 and headers[-1] == "Métropole Européenne de Lille"
    figure = page.locator("section[data-theme=parc] tr[data-field=nb_logements] td").first
    assert re.fullmatch(r"[\d\u00a0]+\u00a0logements", figure.inner_text().replace(" ", "\u00a0"))
    assert SOURCE_MENTION in page.locator("p.mention").first.inner_text()
    shot = tmp_path / "fiche.png"
    page.screenshot(path=str(shot), full_page=True)
    from PIL import Image
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 20, "blank screenshot"
    assert page.outside_requests == []
    assert page.console_errors == []
