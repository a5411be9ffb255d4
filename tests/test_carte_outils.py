"""Map tools of issue 18: stops drawn by mode with their names, résidences filtered by
distance to a metro or tram station (published in proximite_residences), the print (PDF)
and the PNG with legend, scale bar, north, date and source mention. Nothing requested
from another host, no console error."""
from __future__ import annotations

import io
import re
import subprocess
from datetime import date

import pytest

PIL = pytest.importorskip("PIL.Image")
ALL_MEL = "2.7,50.45,3.35,50.85"


def open_map(page, url):
    page.goto(url)
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.wait_for_load_state("networkidle")


def test_station_filter_keeps_only_residences_near_a_station(http, live_server, owner_conn):
    base = f"{live_server}/carte/api/couches/parc_residences"
    every = http.get(base, params={"zoom": 15, "bbox": ALL_MEL, "champs": "nb_logements"}).json()
    near = http.get(base, params={"zoom": 15, "bbox": ALL_MEL, "station_m": 500,
                                  "champs": "nb_logements"}).json()
    year = near["millesime"]
    expected = {r[0] for r in owner_conn.execute(
        "SELECT residence_id FROM diffusion.proximite_residence WHERE millesime = %s "
        "AND dist_metro_tram_m <= 500", [year])}
    got = {f["properties"]["residence_id"] for f in near["features"]}
    assert got and got < {f["properties"]["residence_id"] for f in every["features"]}
    assert got <= expected
    if not near["truncated"] and not every["truncated"]:
        assert got == expected & {f["properties"]["residence_id"] for f in every["features"]}
    # hidden résidences stay drawn without figures when near a station
    assert all(f["properties"]["nb_logements"] is None for f in near["features"]
               if f["properties"]["statut_secret"] == "S")
    for params in ({"station_m": "x"}, {"station_m": 0}, {"station_m": 50000}):
        resp = http.get(base, params={"zoom": 15, "bbox": ALL_MEL, **params})
        assert resp.status_code == 400 and "station_m" in resp.json()["description"]
    resp = http.get(f"{live_server}/carte/api/couches/parc_communes", params={"station_m": 500})
    assert resp.status_code == 400


def test_stops_by_mode_with_station_names(browser_page, live_server):
    page = browser_page
    open_map(page, f"{live_server}/carte#z=15&lat=50.63680&lon=3.07010")
    page.check("#ctx-arrets_transport")
    page.wait_for_function("document.querySelectorAll('path.arret-metro').length > 0", timeout=15000)
    names = page.locator(".nom-station").all_inner_texts()
    assert names and all(n.endswith("(métro)") or n.endswith("(tramway)") for n in names), names[:5]
    assert page.locator("#ctx-mode-bus").is_checked()
    page.uncheck("#ctx-mode-metro")
    page.wait_for_function("document.querySelectorAll('path.arret-metro').length === 0")
    page.check("#ctx-mode-metro")
    page.wait_for_function("document.querySelectorAll('path.arret-metro').length > 0")
    assert page.outside_requests == [] and page.console_errors == []


def test_station_filter_on_the_map_and_in_the_url(browser_page, live_server):
    page = browser_page
    open_map(page, f"{live_server}/carte#z=15&lat=50.63680&lon=3.07010")
    page.wait_for_function("document.body.dataset.echelle === 'residence'")
    before = page.locator("path.residence").count()
    page.select_option("#station", "300")
    page.wait_for_function("document.querySelector('#avis').textContent.includes('300 m')",
                           timeout=15000)
    after = page.locator("path.residence").count()
    assert after <= before
    assert "station=300" in page.url
    assert page.outside_requests == [] and page.console_errors == []


def test_print_carries_legend_scale_north_date_and_mention(browser_page, live_server, tmp_path):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    page.emulate_media(media="print")
    page.evaluate("window.carte.preparePrint()")
    page.wait_for_timeout(300)
    pdf = page.pdf(format="A4", landscape=True, print_background=True)
    path = tmp_path / "carte.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Source : Portail cartographique des logements locatifs sociaux" in text
    assert "Légende" in text and "Logements sociaux" in text
    assert date.today().strftime("%d/%m/%Y") in text
    assert re.search(r"\b\d+ k?m\b", text), "scale bar"
    assert "▲" in text and re.search(r"\bN\b", text), "north"
    assert page.locator(".barre").is_hidden()
    assert page.outside_requests == [] and page.console_errors == []


def test_png_of_the_map(browser_page, live_server, tmp_path):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    with page.expect_download(timeout=30000) as info:
        page.click("#png")
    path = tmp_path / "carte.png"
    info.value.save_as(path)
    assert info.value.suggested_filename.endswith(".png")
    image = PIL.open(io.BytesIO(path.read_bytes())).convert("RGB")
    size = page.evaluate("(() => { const s = window.carte.map.getSize(); return [s.x, s.y]; })()")
    assert image.width >= size[0] and image.height >= size[1]
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 20, "the territories are drawn"
    assert page.outside_requests == [] and page.console_errors == []


def test_counts_as_proportional_symbols_rates_as_colours(browser_page, live_server, http):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    data = http.get(f"{live_server}/carte/api/couches/parc_communes",
                    params={"zoom": 11, "champs": "nb_logements"}).json()
    published = [f for f in data["features"] if f["properties"]["nb_logements"] is not None]
    page.wait_for_function("document.querySelectorAll('path.symbole').length > 0")
    assert page.locator("path.symbole").count() == len(published)   # no circle for a hidden one
    assert "cercles proportionnels" in page.locator("#legende").inner_text()
    radii = page.eval_on_selector_all(
        "path.symbole", "els => els.map(e => e.getBoundingClientRect().width)")
    assert max(radii) > 3 * min(radii)
    page.select_option("#indicateur", "taux_vacance")
    page.wait_for_function("document.querySelectorAll('path.symbole').length === 0")
    assert "cercles" not in page.locator("#legende").inner_text()
    assert page.outside_requests == [] and page.console_errors == []
