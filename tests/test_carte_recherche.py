"""The map's search box (issue 18, « Trouver »): communes, IRIS, QPV and published résidences
from the published views only — a hidden résidence is never found, by its address or its
identifier — through the endpoint and in headless Chromium with the keyboard; nothing is
requested from another host, no console error."""
from __future__ import annotations

import pytest

from carte.recherche import fold


def search(http, base, q, **params):
    return http.get(f"{base}/carte/api/recherche", params={"q": q, **params})


@pytest.fixture
def residences_for_search(owner_conn):
    """(published: id, address) and (hidden: id, its true address from core) in the latest
    millésime; the hidden address is not also the address of a published résidence."""
    latest = owner_conn.execute("SELECT max(millesime) FROM diffusion.parc_residence").fetchone()[0]
    shown = owner_conn.execute(
        "SELECT residence_id, adresse FROM diffusion.parc_residence "
        "WHERE millesime = %s AND adresse IS NOT NULL ORDER BY residence_id LIMIT 1",
        [latest]).fetchone()
    hidden = owner_conn.execute(
        "SELECT r.residence_id, r.adresse, r.bailleur FROM core.residence r "
        "JOIN diffusion.parc_residence d USING (millesime, residence_id) "
        "WHERE d.millesime = %s AND d.adresse IS NULL AND d.statut_secret = 'S' "
        "AND NOT EXISTS (SELECT 1 FROM diffusion.parc_residence p WHERE p.millesime = d.millesime "
        "                AND p.adresse = r.adresse) "
        "ORDER BY r.residence_id LIMIT 1", [latest]).fetchone()
    assert shown and hidden, "the demo data have published and hidden résidences"
    return {"shown": shown, "hidden": hidden, "millesime": latest}


def test_fold_removes_accents_case_and_punctuation():
    assert fold("Saint-André-lez-Lille") == "saint andre lez lille"
    assert fold("  Œuvre  ") == "oeuvre"
    assert fold(None) == ""


def test_search_needs_an_account_and_refuses_bad_input_in_french(http, live_server):
    import requests
    assert requests.get(f"{live_server}/carte/api/recherche", params={"q": "Lille"}).status_code == 401
    for params in ({"q": "x"}, {"q": "a" * 101}, {"q": "Lille", "millesime": "deux"}):
        resp = http.get(f"{live_server}/carte/api/recherche", params=params)
        assert resp.status_code == 400, params
        assert resp.json()["code"] == "InvalidParameterValue"
        assert resp.json()["description"].split(" : ")[0] in ("q", "millesime")


def test_search_finds_territories_by_name_and_code(http, live_server):
    body = search(http, live_server, "roubaix").json()
    first = body["results"][0]
    assert (first["type"], first["code"], first["label"]) == ("commune", "59512", "Roubaix")
    assert len(first["bbox"]) == 4 and first["bbox"][0] < first["bbox"][2]
    assert search(http, live_server, "59512").json()["results"][0]["label"] == "Roubaix"
    # accents and hyphens folded
    villeneuve = search(http, live_server, "villeneuve d ascq").json()["results"]
    assert villeneuve and villeneuve[0]["label"] == "Villeneuve-d'Ascq"
    for kind, layer in (("qpv", "qpv"), ("iris", "iris")):
        item = http.get(f"{live_server}/collections/{layer}/items",
                        params={"limit": 1, "f": "json"}).json()["features"][0]["properties"]
        code = item["code_qpv" if kind == "qpv" else "code_iris"]
        results = search(http, live_server, code).json()["results"]
        assert results[0]["type"] == kind and results[0]["code"] == code
        if kind != "qpv":
            continue
        name = item["nom_qpv"]
        assert any(r["code"] == code for r in search(http, live_server, name).json()["results"]
                   if r["type"] == kind)


def test_search_finds_a_published_residence_and_never_a_hidden_one(http, live_server,
                                                                   residences_for_search):
    rid, address = residences_for_search["shown"]
    found = search(http, live_server, address).json()
    assert any(r["type"] == "residence" and r["code"] == rid for r in found["results"])
    assert found["millesime"] == residences_for_search["millesime"]
    item = next(r for r in found["results"] if r["code"] == rid)
    assert len(item["point"]) == 2
    assert search(http, live_server, rid).json()["results"][0]["code"] == rid

    hidden_id, hidden_address, _ = residences_for_search["hidden"]
    for q in (hidden_address, hidden_id, hidden_address.split(" ", 1)[-1]):
        results = search(http, live_server, q).json()["results"]
        assert all(r["code"] != hidden_id for r in results), q
        assert all(r["label"] != hidden_address for r in results), q
    # every millésime of the view: the same rule
    for year in http.get(f"{live_server}/carte/api/catalogue").json()["millesimes"]["parc_residences"]:
        results = search(http, live_server, hidden_id, millesime=year).json()["results"]
        assert all(r["type"] != "residence" for r in results)


def _type_and_wait(page, text):
    page.fill("#recherche", "")
    page.type("#recherche", text, delay=20)
    page.wait_for_function(
        "q => document.body.dataset.recherche === q && !document.querySelector('#recherche-liste').hidden",
        arg=text, timeout=10000)


def test_search_box_with_the_keyboard_opens_roubaix(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server}/carte")
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.focus("#recherche")
    assert page.get_attribute("#recherche", "role") == "combobox"
    assert page.locator("label[for=recherche]").inner_text() == "Rechercher"
    _type_and_wait(page, "roub")
    options = page.locator("#recherche-liste [role=option]")
    assert "Roubaix" in options.first.inner_text()
    assert page.get_attribute("#recherche", "aria-expanded") == "true"
    assert page.get_attribute("#recherche", "aria-activedescendant") == "recherche-0"
    if options.count() > 1:
        page.keyboard.press("ArrowDown")
        assert page.get_attribute("#recherche", "aria-activedescendant") == "recherche-1"
        page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .popup", timeout=15000)
    popup = page.locator(".leaflet-popup .popup")
    assert "Roubaix" in popup.locator("h3").inner_text()
    assert popup.locator("h3 small").inner_text() == "59512"
    assert page.locator("body").get_attribute("data-echelle") == "commune"
    assert page.get_attribute("#recherche", "aria-expanded") == "false"
    assert page.outside_requests == [] and page.console_errors == []


def test_search_box_finds_a_residence_by_address_and_not_a_hidden_one(browser_page, live_server,
                                                                      residences_for_search):
    page = browser_page
    page.goto(f"{live_server}/carte")
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    rid, address = residences_for_search["shown"]
    _type_and_wait(page, address)
    option = page.locator(f"#recherche-liste [role=option][data-code='{rid}']")
    assert option.count() == 1
    option.click()
    page.wait_for_function("document.body.dataset.echelle === 'residence'", timeout=15000)
    page.wait_for_selector(".leaflet-popup .popup", timeout=15000)
    assert page.locator(".leaflet-popup .popup h3 small").inner_text() == rid

    hidden_id, hidden_address, _ = residences_for_search["hidden"]
    page.fill("#recherche", "")
    page.type("#recherche", hidden_address, delay=10)
    page.wait_for_function("q => document.body.dataset.recherche === q", arg=hidden_address,
                           timeout=10000)
    assert page.locator(f"#recherche-liste [data-code='{hidden_id}']").count() == 0
    assert hidden_address not in page.locator("#recherche-liste").inner_text()
    assert page.outside_requests == [] and page.console_errors == []


def test_ban_geocoder_only_when_configured(browser_page, live_server, http):
    """Without PORTAIL_GEOCODEUR_URL nothing leaves the portal (the other tests); with it,
    addresses of the BAN API join the list. The page is served as with the setting (its
    inline catalogue rewritten by the browser's routing), the API answer played by it."""
    import json
    import re
    assert http.get(f"{live_server}/carte/api/catalogue").json()["geocoder"] == ""
    page = browser_page
    asked = []

    def carte(route):
        response = route.fetch()
        body = response.text()
        match = re.search(r'(<script id="catalogue" type="application/json">)(.*?)(</script>)',
                          body, re.S)
        catalogue = json.loads(match.group(2))
        catalogue["geocoder"] = "https://geocodeur.exemple"
        route.fulfill(response=response,
                      body=body[:match.start(2)] + json.dumps(catalogue) + body[match.end(2):])

    def ban(route):
        asked.append(route.request.url)
        route.fulfill(json={"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [3.1746, 50.6903]},
            "properties": {"id": "59512_0001_00010", "label": "10 Rue de la Gare 59100 Roubaix"}}]})

    page.route(re.compile(r".*/carte$"), carte)
    page.route("https://geocodeur.exemple/**", ban)
    page.goto(f"{live_server}/carte")
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    _type_and_wait(page, "10 rue de la gare")
    option = page.locator("#recherche-liste [role=option][data-type=adresse]")
    assert option.count() == 1 and "Roubaix" in option.inner_text()
    assert "q=10%20rue%20de%20la%20gare" in asked[-1]
    option.click()
    page.wait_for_function("Math.abs(window.carte.map.getCenter().lat - 50.6903) < 0.001")
    assert page.evaluate("window.carte.map.getZoom()") == 17
    assert all(u.startswith("https://geocodeur.exemple/") for u in page.outside_requests)
    assert page.console_errors == []
