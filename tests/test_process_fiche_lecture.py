"""The sheet reads right (issue 18, « Fiche »): T1–T5, landlord and construction year;
stops and facility types named (« métro », « Médecin généraliste »), not coded; each stop
once; French singular for 0 and 1 (« 0 équipement »); a locator map; a PDF with page
numbers, tagged (PDF/UA-1 as far as WeasyPrint goes) and with the source mention."""
from __future__ import annotations

import html
import re
import subprocess

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from data_dictionary.codes import BPE_TYPES, equipment_label, mode_label
from processes.fiche_render import singular, with_unit

CODE = re.compile(r"\b[A-G]\d{3}\b")


@pytest.fixture(scope="module")
def service(settings, live_server):
    with psycopg.connect(settings.service_dsn(), autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(scope="module")
def session(live_server, account):
    s = requests.Session()
    s.auth = account
    return s


def test_words_for_codes_and_plurals():
    assert mode_label("metro") == "métro" and mode_label("tram") == "tramway"
    assert equipment_label("D201") == "Médecin généraliste"
    assert equipment_label("C999") == "Enseignement (C999)"
    assert all(not CODE.search(label) for label in BPE_TYPES.values())
    assert with_unit(0, "équipements") == "0\u00a0équipement"
    assert with_unit(1, "logements") == "1\u00a0logement"
    assert with_unit(2, "logements") == "2\u00a0logements"
    assert with_unit(1, "m") == "1\u00a0m" and singular("mois") == "mois"


@pytest.fixture(scope="module")
def residence(service):
    """A published résidence of the latest millésime with equipment around it."""
    row = service.execute(
        "SELECT r.residence_id, r.adresse, r.bailleur, r.annee_construction, r.nb_t1 "
        "FROM diffusion.parc_residence r WHERE r.millesime = (SELECT max(millesime) FROM "
        "diffusion.parc_residence) AND r.adresse IS NOT NULL AND EXISTS (SELECT 1 FROM "
        "diffusion.equipements e WHERE ST_DWithin(e.geom, r.geom, 500)) "
        "ORDER BY r.nb_logements DESC LIMIT 1").fetchone()
    assert row
    return row


def test_residence_sheet_reads_right(session, live_server, residence):
    resp = session.get(f"{live_server}/fiche/residence/{residence['residence_id']}",
                       params={"f": "html"}, timeout=60)
    assert resp.status_code == 200
    page = html.unescape(resp.text)
    ident = dict(re.findall(r"<div><dt>([^<]+)</dt><dd>([^<]*)</dd></div>", page))
    assert ident["Adresse"] == residence["adresse"] and ident["Bailleur"] == residence["bailleur"]
    if residence["annee_construction"]:
        assert ident["Année de construction"] == str(residence["annee_construction"])
    for label in ("Logements T1", "Logements T2", "Logements T5"):
        assert label in page, label
    stops = re.search(r"Arrêts de transport les plus proches</h2>(.*?)</table>", page, re.S)
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>", stops.group(1))
    assert rows and len(rows) == len(set(rows)), rows          # each stop once
    assert {mode for _, mode in rows} <= {"métro", "tramway", "bus", "autre mode"}
    equipment = re.search(r"Équipements à moins de 500\s?m</h2>(.*?)</table>", page, re.S)
    names = re.findall(r"<tr><td>([^<]*)</td>", equipment.group(1))
    assert names and not any(re.fullmatch(r"[A-G]\d{3}", n) for n in names), names
    assert not re.search(r"(?<![\d\u00a0])[01]\u00a0équipements", page)
    assert not re.search(r"\bmetro\b", page)
    assert '<figure class="situation"><svg' in resp.text and "<circle" in resp.text


def test_commune_sheet_has_a_locator_and_tagged_paged_pdf(session, live_server, tmp_path):
    page = session.get(f"{live_server}/fiche/commune/59512", params={"f": "html"}, timeout=60)
    assert page.status_code == 200
    assert 'role="img"' in page.text and "Carte de situation : Roubaix" in page.text
    assert page.text.count("<path") > 50           # the communes of the MEL around it
    resp = session.get(f"{live_server}/fiche/commune/59512", params={"f": "pdf"}, timeout=120)
    assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
    path = tmp_path / "roubaix.pdf"
    path.write_bytes(resp.content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"^Tagged:\s+yes", info, re.M), info        # a structure tree
    assert re.search(r"^Title:\s+Fiche", info, re.M), info
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert re.search(rf"Page 1 / {len(pages)}", text)
    assert "Source : Portail cartographique des logements locatifs" in text
    assert "Logements T1" in text


def test_residence_sheet_in_chromium(browser_page, live_server, residence):
    page = browser_page
    page.goto(f"{live_server}/fiche/residence/{residence['residence_id']}?f=html")
    page.wait_for_load_state("networkidle")
    assert page.locator("figure.situation svg").is_visible()
    assert page.locator("dl.identite").inner_text().count("\n") >= 2
    assert "métro" in page.locator("body").inner_text() or "bus" in page.locator("body").inner_text()
    assert "Source : Portail cartographique" in page.locator("body").inner_text()
    assert page.outside_requests == [] and page.console_errors == []
