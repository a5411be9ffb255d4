"""The URL carries the map's view (issue 18, « Partager »): theme, indicator, millésime,
scale, classes, position and selection; a link opened in a fresh page shows the same view.
Nothing requested from another host, no console error."""
from __future__ import annotations

from browser import basic_auth_header

from urllib.parse import parse_qs, urlsplit


def open_map(page, url):
    page.goto(url)
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.wait_for_load_state("networkidle")


def view_of(page):
    return {
        "theme": page.input_value("#theme"),
        "indicateur": page.input_value("#indicateur"),
        "millesime": page.input_value("#millesime"),
        "echelle": page.input_value("#echelle"),
        "classes": page.input_value("#classes"),
        "fixe": page.is_checked("#classes-fixes"),
        "shown": page.get_attribute("body", "data-echelle"),
        "legend": page.locator("#legende").inner_text(),
        "selection": page.locator("#selection").inner_text(),
        "centre": page.evaluate("(() => { const c = window.carte.map.getCenter(); "
                                "return [c.lat.toFixed(4), c.lng.toFixed(4), window.carte.map.getZoom()]; })()"),
    }


def test_a_shared_link_reopens_the_same_view(browser_page, live_server, chromium, account):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    page.select_option("#theme", "parc")
    page.select_option("#indicateur", "taux_vacance")
    years = page.locator("#millesime option").all_inner_texts()
    assert len(years) >= 2
    page.select_option("#millesime", years[1])
    page.select_option("#classes", "jenks")
    page.check("#classes-fixes")
    page.wait_for_load_state("networkidle")
    # a selection of two communes, through the search box and the popup
    for name in ("Roubaix", "Tourcoing"):
        page.fill("#recherche", name)
        page.wait_for_function("q => document.body.dataset.recherche === q", arg=name)
        page.keyboard.press("Enter")
        page.wait_for_selector(".leaflet-popup .popup .ajouter", timeout=15000)
        page.click(".leaflet-popup .popup .ajouter")
    page.evaluate("window.carte.map.setView([50.70, 3.16], 12, {animate: false})")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)
    before = view_of(page)
    assert "Roubaix" in before["selection"] and "Tourcoing" in before["selection"]
    url = page.url
    fragment = parse_qs(urlsplit(url).fragment)
    assert fragment["indicateur"] == ["taux_vacance"] and fragment["millesime"] == [years[1]]
    assert fragment["sel"] == ["commune:59512,59599"] and fragment["z"] == ["12"]

    context = chromium.new_context(extra_http_headers=basic_auth_header(account),
                                   locale="fr-FR", viewport={"width": 1280, "height": 800})
    other = context.new_page()
    errors, outside = [], []
    other.on("console", lambda m: m.type == "error" and errors.append(m.text))
    other.on("pageerror", lambda e: errors.append(str(e)))
    other.on("request", lambda r: urlsplit(r.url).netloc not in ("", urlsplit(live_server).netloc)
             and not r.url.startswith(("data:", "blob:")) and outside.append(r.url))
    try:
        open_map(other, url)
        other.wait_for_function("document.querySelector('#selection').innerText.includes('Tourcoing')",
                                timeout=10000)
        after = view_of(other)
        assert after == before
        assert other.url == url
    finally:
        context.close()
    page.click("#partager")
    page.wait_for_function("document.querySelector('#partager-etat').textContent !== ''")
    assert errors == [] and outside == []
    assert page.outside_requests == [] and page.console_errors == []


def test_a_bad_fragment_falls_back_to_the_defaults(browser_page, live_server):
    page = browser_page
    open_map(page, f"{live_server}/carte#theme=x&indicateur=<b>&millesime=abc&echelle=y"
                   "&z=9999&lat=x&sel=commune:<script>")
    assert page.input_value("#echelle") == "auto"
    assert page.locator("#selection li").count() == 0
    assert page.locator("path.territoire").count() == 95
    assert page.console_errors == [] and page.outside_requests == []
