"""Class limits over the whole MEL (issue 18, « Comparer ») and popups told right (« Lire »):
limits computed once per indicator, scale and millésime over the published values (never
the features in view: panning does not change them), rounded; the résidence popup names
the millésime, gives address, landlord, year and every figure of the theme, and says
« secret » for each hidden figure."""
from __future__ import annotations

import re

import numpy as np
import pytest

from carte.catalog import catalog
from carte.classes import compute, jenks_breaks, round_limit


def test_jenks_finds_obvious_clusters():
    values = np.array(sorted([1, 1.2, 2, 10, 11, 20, 21, 22, 50, 51, 100.0]))
    assert jenks_breaks(values, 5) == [10, 20, 50, 100]


def test_jenks_matches_brute_force_on_small_sets():
    rng = np.random.default_rng(3)
    for _ in range(20):
        v = np.sort(rng.integers(0, 60, size=9).astype(float))
        k = 3

        def ssd(part):
            return float(((part - part.mean()) ** 2).sum()) if len(part) else 0.0
        best = min(ssd(v[:i]) + ssd(v[i:j]) + ssd(v[j:])
                   for i in range(1, 8) for j in range(i + 1, 9))
        b1, b2 = jenks_breaks(v, k)
        i, j = int(np.searchsorted(v, b1)), int(np.searchsorted(v, b2))
        assert ssd(v[:i]) + ssd(v[i:j]) + ssd(v[j:]) == pytest.approx(best)


def test_limits_are_rounded_and_increasing():
    assert round_limit(35.34, 5) == 35 and round_limit(0.234, 1) == 0.23
    assert round_limit(12345, 1000) == 12000
    out = compute([0.1, 0.2, 0.5, 12.3, 40.0, 3.3, 7.7, 18.1], "quantiles")
    assert out["breaks"] == sorted(set(out["breaks"]))
    assert all(out["min"] < b <= out["max"] for b in out["breaks"])
    assert compute([], "jenks")["count"] == 0


def test_limits_cover_the_published_values_of_the_whole_mel(http, live_server, owner_conn):
    year = http.get(f"{live_server}/carte/api/catalogue").json()["millesimes"]["parc_residences"][0]
    body = http.get(f"{live_server}/carte/api/classes",
                    params={"couche": "parc_residences", "champ": "nb_logements",
                            "millesime": year}).json()
    published = [r[0] for r in owner_conn.execute(
        "SELECT nb_logements FROM diffusion.parc_residence WHERE millesime = %s "
        "AND nb_logements IS NOT NULL", [year])]
    hidden = owner_conn.execute(
        "SELECT count(*) FROM diffusion.parc_residence WHERE millesime = %s "
        "AND statut_secret = 'S'", [year]).fetchone()[0]
    assert hidden > 0   # hidden résidences exist and are not counted as zero
    assert body["count"] == len(published) and body["millesime"] == year
    assert body["min"] == min(published) >= 11 and body["max"] == max(published)
    assert 1 <= len(body["breaks"]) <= 4
    fixed = http.get(f"{live_server}/carte/api/classes",
                     params={"couche": "parc_residences", "champ": "nb_logements",
                             "millesime": year, "fixe": "oui"}).json()
    assert fixed["fixe"] and len(fixed["millesimes"]) >= 2 and fixed["count"] > body["count"]
    for params in ({"couche": "communes", "champ": "x"}, {"couche": "parc_communes", "champ": "nom"},
                   {"couche": "parc_communes", "champ": "nb_logements", "methode": "x"}):
        resp = http.get(f"{live_server}/carte/api/classes", params=params)
        assert resp.status_code == 400 and resp.json()["description"]


def open_map(page, base):
    page.goto(f"{base}/carte")
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.wait_for_load_state("networkidle")


def legend_bounds(page):
    return page.locator("#legende .classe").all_inner_texts()


def test_classes_do_not_change_on_pan(browser_page, live_server, http):
    page = browser_page
    open_map(page, live_server)
    data = http.get(f"{live_server}/carte/api/couches/parc_residences",
                    params={"zoom": 15, "bbox": "2.7,50.45,3.35,50.85"}).json()
    points = [f["geometry"]["coordinates"] for f in data["features"]
              if f["properties"]["statut_secret"] == "P"]
    first, far = points[0], max(points, key=lambda p: abs(p[0] - points[0][0]) + abs(p[1] - points[0][1]))
    page.evaluate(f"window.carte.map.setView([{first[1]}, {first[0]}], 16)")
    page.wait_for_function("document.body.dataset.echelle === 'residence'", timeout=15000)
    page.wait_for_load_state("networkidle")
    before = legend_bounds(page)
    drawn_before = page.locator("path.residence").count()
    page.evaluate(f"window.carte.map.setView([{far[1]}, {far[0]}], 16)")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    assert legend_bounds(page) == before
    assert "toute la MEL" in page.locator("#legende").inner_text()
    assert drawn_before > 0
    # communes: the same limits as the endpoint's
    page.evaluate("window.carte.map.setView([50.64, 3.08], 11)")
    page.wait_for_function("document.body.dataset.echelle === 'commune'", timeout=15000)
    page.wait_for_load_state("networkidle")
    limits = page.evaluate("window.carte.state.classes")
    year = page.input_value("#millesime")
    indicator = page.input_value("#indicateur")
    body = http.get(f"{live_server}/carte/api/classes",
                    params={"couche": "parc_communes", "champ": indicator, "millesime": year}).json()
    assert limits["breaks"] == body["breaks"]
    assert page.outside_requests == [] and page.console_errors == []


@pytest.fixture
def residence_with_hidden_figure(owner_conn):
    """A published résidence (statut P) of the latest millésime, preferably one whose
    rents (statut_quittance S) are hidden."""
    row = owner_conn.execute(
        "SELECT residence_id, adresse, bailleur, annee_construction, statut_quittance, millesime "
        "FROM diffusion.parc_residence WHERE millesime = (SELECT max(millesime) FROM "
        "diffusion.parc_residence) AND adresse IS NOT NULL "
        "ORDER BY (statut_quittance = 'S') DESC, residence_id LIMIT 1").fetchone()
    assert row
    return row


def test_residence_popup_is_told_right(browser_page, live_server, residence_with_hidden_figure):
    rid, address, landlord, year, quittance, millesime = residence_with_hidden_figure
    page = browser_page
    open_map(page, live_server)
    page.fill("#recherche", rid)
    page.wait_for_function("q => document.body.dataset.recherche === q", arg=rid, timeout=10000)
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .popup .chiffres tr", timeout=15000)
    popup = page.locator(".leaflet-popup .popup")
    assert popup.locator("h3 small").inner_text() == rid
    assert f"Millésime {millesime}" in popup.locator(".popup-millesime").inner_text()
    assert popup.locator("dd.adresse").inner_text() == address
    assert popup.locator("dd.bailleur").inner_text() == landlord
    if year is not None:
        assert popup.locator("dd.annee").inner_text() == str(year)
    theme = next(t for t in catalog()["themes"] if t["name"] == "parc")
    expected = [i for i in theme["indicators"] if "residence" in i["scales"]]
    rows = popup.locator(".chiffres tr")
    assert rows.count() == len(expected) > 8
    cells = popup.locator(".chiffres td.v").all_inner_texts()
    for cell in cells:   # a figure, or a status told in words, never a bare code
        assert re.search(r"\d", cell) or cell in (
            "secret", "non renseigné", "sans objet à cette échelle", "rien à compter (zéro)"), cell
    if quittance == "S":
        labels = popup.locator(".chiffres td:first-child").all_inner_texts()
        value = dict(zip(labels, cells))
        assert any(v == "secret" for v in value.values())
    assert "moins de 11" not in popup.inner_text()
    assert page.outside_requests == [] and page.console_errors == []
