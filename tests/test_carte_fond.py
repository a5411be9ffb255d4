"""The background (issue 18): by default built from the portal's own data (place names at
every scale, metro and tram lines and stations; no outside request, no tile); one setting
(PORTAIL_FOND_URL = plan-ign | osm | a template) draws tiles instead, with attribution."""
from __future__ import annotations

import base64
import json
import re

from carte.fond import background

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def open_map(page, url):
    page.goto(url)
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.wait_for_load_state("networkidle")


def test_background_setting():
    assert background("") == {"kind": "portail", "url": "", "attribution": ""}
    osm = background("osm")
    assert osm["kind"] == "tuiles" and "{z}" in osm["url"] and "OpenStreetMap" in osm["attribution"]
    ign = background("plan-ign")
    assert "PLANIGN" in ign["url"] and "IGN" in ign["attribution"]
    own = background("https://tuiles.exemple/{z}/{x}/{y}.png", "© MEL")
    assert own["url"].startswith("https://tuiles.exemple/") and own["attribution"] == "© MEL"


def test_place_names_from_the_published_outlines(http, live_server):
    communes = http.get(f"{live_server}/carte/api/noms/commune").json()["noms"]
    assert len(communes) == 95 and "Roubaix" in {n["nom"] for n in communes}
    assert communes[0]["poids"] >= communes[-1]["poids"]    # the largest first
    iris = http.get(f"{live_server}/carte/api/noms/iris").json()["noms"]
    assert len(iris) > 95
    assert all(2.7 < n["lon"] < 3.35 and 50.45 < n["lat"] < 50.85 for n in communes + iris)
    resp = http.get(f"{live_server}/carte/api/noms/residence")
    assert resp.status_code == 400 and "échelle" in resp.json()["description"]


def test_own_background_names_every_scale_without_tiles(browser_page, live_server):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    assert page.get_attribute("body", "data-fond") == "portail"
    page.wait_for_function("document.querySelectorAll('.etiquette-commune').length > 5")
    names = page.locator(".etiquette-commune").all_inner_texts()
    assert "Lille" in names or "Roubaix" in names
    assert page.locator(".leaflet-tile").count() == 0
    page.evaluate("window.carte.map.setView([50.6368, 3.0701], 14, {animate: false})")
    page.wait_for_function("document.querySelectorAll('.etiquette-iris').length > 0", timeout=10000)
    page.wait_for_function("document.querySelectorAll('path.fond-station').length > 0", timeout=10000)
    page.evaluate("window.carte.map.setView([50.6368, 3.0701], 16, {animate: false})")
    page.wait_for_function("document.querySelectorAll('.etiquette-station').length > 0", timeout=10000)
    assert page.locator(".leaflet-tile").count() == 0
    assert page.outside_requests == [] and page.console_errors == []


def test_osm_tiles_when_set(browser_page, live_server):
    """The page as served with PORTAIL_FOND_URL=osm (its inline catalogue rewritten by the
    browser's routing; the tiles are played by the routing, nothing leaves the machine)."""
    page = browser_page

    def carte(route):
        response = route.fetch()
        body = response.text()
        match = re.search(r'(<script id="catalogue" type="application/json">)(.*?)(</script>)',
                          body, re.S)
        catalogue = json.loads(match.group(2))
        catalogue["background"] = background("osm")
        body = body[:match.start(2)] + json.dumps(catalogue) + body[match.end(2):]
        route.fulfill(response=response, body=body)

    tiles = []
    page.route(re.compile(r".*/carte$"), carte)
    page.route("https://tile.openstreetmap.org/**",
               lambda route: (tiles.append(route.request.url),
                              route.fulfill(body=PNG_1PX, content_type="image/png")))
    open_map(page, f"{live_server}/carte")
    page.wait_for_function("document.querySelectorAll('.leaflet-tile').length > 0")
    assert page.get_attribute("body", "data-fond") == "osm"
    assert "OpenStreetMap" in page.locator(".leaflet-control-attribution").inner_text()
    assert "Source : Portail cartographique" in page.locator(".leaflet-control-attribution").inner_text()
    assert tiles and all(u.startswith("https://tile.openstreetmap.org/") for u in page.outside_requests)
    assert page.console_errors == []


def test_names_are_gzipped_when_asked(http, live_server):
    resp = http.get(f"{live_server}/carte/api/noms/iris", headers={"Accept-Encoding": "gzip"},
                    stream=True)
    raw = resp.raw.read(decode_content=False)
    assert resp.headers["Content-Encoding"] == "gzip" and raw[:2] == b"\x1f\x8b"
    plain = http.get(f"{live_server}/carte/api/noms/iris", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and len(raw) < len(plain.content) / 2


def test_lines_endpoint_reads_the_published_lines(http, live_server):
    """The metro and tram lines of the background, from diffusion.lignes_transport through
    the map's layer endpoint: one LineString per route and direction, with name and colour."""
    catalogue = http.get(f"{live_server}/carte/api/catalogue").json()
    assert "lignes_transport" in catalogue["fond"]
    years = catalogue["millesimes"]["lignes_transport"]
    assert years
    body = http.get(f"{live_server}/carte/api/couches/lignes_transport",
                    params={"zoom": 12, "millesime": years[0]}).json()
    assert body["millesime"] == years[0] and body["numberReturned"] == len(body["features"]) > 0
    modes = set()
    for f in body["features"]:
        p = f["properties"]
        assert f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) >= 2
        assert all(2.7 < x < 3.35 and 50.45 < y < 50.85 for x, y in f["geometry"]["coordinates"])
        assert p["route_short_name"] and p["route_long_name"] and re.fullmatch(r"[0-9A-F]{6}", p["route_color"])
        assert p["direction_id"] in (0, 1)
        modes.add(p["mode"])
    assert modes == {"metro", "tram"}
    resp = http.get(f"{live_server}/carte/api/couches/lignes_transport", params={"zoom": 12, "millesime": 1950})
    assert resp.status_code == 200 and resp.json()["features"] == []


def test_lines_drawn_under_the_stations_and_named_in_the_legend(browser_page, live_server, http):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    page.wait_for_function("document.querySelectorAll('path.fond-ligne').length > 0", timeout=10000)
    drawn = page.locator("path.fond-ligne")
    assert page.locator("path.fond-ligne-metro").count() > 0 and page.locator("path.fond-ligne-tram").count() > 0
    colours = {drawn.nth(i).get_attribute("stroke") for i in range(drawn.count())}
    assert len(colours) >= 2                                 # coloured by line
    legend = page.locator("#legende-lignes")
    assert legend.is_visible()
    items = legend.locator(".ligne-legende").all_inner_texts()
    years = http.get(f"{live_server}/carte/api/catalogue").json()["millesimes"]["lignes_transport"]
    body = http.get(f"{live_server}/carte/api/couches/lignes_transport",
                    params={"zoom": 12, "millesime": years[0]}).json()
    assert len(items) == len({f["properties"]["route_id"] for f in body["features"]})
    assert any(i.startswith("métro ") for i in items) and any(i.startswith("tramway ") for i in items)
    # Under the stations: the lines' pane is below the stations' pane.
    page.evaluate("window.carte.map.setView([50.6368, 3.0701], 14, {animate: false})")
    page.wait_for_function("document.querySelectorAll('path.fond-station').length > 0", timeout=10000)
    below = page.evaluate("""() => {
        const z = n => Number(getComputedStyle(document.querySelector('.leaflet-' + n + '-pane')).zIndex);
        return z('fond-lignes') < z('fond');
    }""")
    assert below and page.locator("path.fond-ligne").count() > 0
    assert page.locator(".leaflet-tile").count() == 0
    assert page.outside_requests == [] and page.console_errors == []
