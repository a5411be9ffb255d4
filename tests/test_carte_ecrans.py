"""The map page on any screen (issue 18, « Tout écran »): at 390 × 844 the map keeps at
least 300 px of width and every dialog and popup fits the screen, touch targets are 44 px;
an h1 and a label for every field, controls named in French and in English, territories
reachable with the keyboard, a double click zooms without opening a popup, and axe-core
finds no serious violation. Nothing requested from another host, no console error."""
from __future__ import annotations

from browser import basic_auth_header

import pytest

from carte.vendor import VENDOR_DIR

AXE = VENDOR_DIR / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone_page(chromium, live_server, account):
    from urllib.parse import urlsplit
    context = chromium.new_context(extra_http_headers=basic_auth_header(account),
                                   locale="fr-FR", viewport=PHONE, has_touch=True,
                                   is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.outside_requests, page.console_errors = [], []
    portal = urlsplit(live_server).netloc
    page.on("request", lambda r: urlsplit(r.url).netloc != portal
            and not r.url.startswith(("data:", "blob:")) and page.outside_requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()


def open_map(page, base):
    page.goto(f"{base}/carte")
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.wait_for_load_state("networkidle")


def within_screen(page, selector):
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    assert box, selector
    assert box["x"] >= -1 and box["y"] >= -1, (selector, box)
    assert box["x"] + box["width"] <= size["width"] + 1, (selector, box)
    assert box["y"] + box["height"] <= size["height"] + 1, (selector, box)


def small_targets(page):
    """Visible buttons, links of controls, fields whose box is under 44 px high."""
    return page.evaluate("""() => [...document.querySelectorAll(
            'button, select, input, .leaflet-bar a, .popup .liens a')]
        .filter(el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
                        return r.width > 0 && r.height > 0 && s.visibility !== 'hidden'; })
        .map(el => { const r = (el.type === 'checkbox' ? el.closest('label') || el : el).getBoundingClientRect();
                     return [el.id || el.className || el.tagName, Math.round(r.width), Math.round(r.height)]; })
        .filter(([name, w, h]) => h < 44)""")


def test_phone_layout_map_dialogs_and_targets(phone_page, live_server):
    page = phone_page
    open_map(page, live_server)
    box = page.locator("#carte").bounding_box()
    assert box["width"] >= 300 and box["height"] >= 300, box
    assert page.get_attribute("#panneau-bouton", "aria-expanded") == "false"
    assert small_targets(page) == []
    # the choices open and close; the drawer opens within the screen
    page.click("#choix-bouton")
    assert page.locator("#indicateur").is_visible()
    page.select_option("#indicateur", "taux_vacance")
    page.click("#choix-bouton")
    assert not page.locator("#indicateur").is_visible()
    page.click("#panneau-bouton")
    assert page.get_attribute("#panneau-bouton", "aria-expanded") == "true"
    within_screen(page, "#panneau")
    assert page.locator("#carte").bounding_box()["width"] >= 300
    assert small_targets(page) == []
    page.click("#panneau-bouton")
    # help dialog within the screen
    page.click("#aide-bouton")
    within_screen(page, "#aide")
    page.keyboard.press("Escape")
    # a popup within the screen, with a search
    page.fill("#recherche", "Roubaix")
    page.wait_for_function("document.body.dataset.recherche === 'Roubaix'")
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .popup .chiffres tr", timeout=15000)
    page.wait_for_timeout(400)   # autopan
    within_screen(page, ".leaflet-popup")
    assert small_targets(page) == []
    assert page.outside_requests == [] and page.console_errors == []


@pytest.mark.parametrize("size", [(1024, 600), (1366, 768)])
def test_small_laptop_keeps_map_and_panel(chromium, live_server, account, size):
    from urllib.parse import urlsplit
    context = chromium.new_context(extra_http_headers=basic_auth_header(account),
                                   locale="fr-FR", viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    outside, errors = [], []
    page.on("request", lambda r: urlsplit(r.url).netloc != urlsplit(live_server).netloc
            and not r.url.startswith(("data:", "blob:")) and outside.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        open_map(page, live_server)
        carte = page.locator("#carte").bounding_box()
        panel = page.locator("#panneau").bounding_box()
        assert carte["width"] >= 0.6 * size[0] and carte["height"] >= 0.6 * size[1]
        assert panel["x"] + panel["width"] <= size[0] + 1
        assert page.locator("#legende .classe").first.is_visible()
        page.click("#aide-bouton")
        within_screen(page, "#aide")
        page.keyboard.press("Escape")
        page.click("#panneau-bouton")     # the panel folds: the map takes the width
        assert page.locator("#carte").bounding_box()["width"] > carte["width"]
        assert outside == [] and errors == []
    finally:
        context.close()


def test_h1_labels_and_names_in_both_languages(browser_page, live_server):
    page = browser_page
    open_map(page, live_server)
    assert page.locator("h1").count() == 1 and "MEL" in page.locator("h1").inner_text()
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button, [role=button]')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby') && !(el.textContent || '').trim()
                      && !el.title)
        .map(el => el.outerHTML.slice(0, 80))""")
    assert unlabelled == []
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "Zoom avant"
    assert page.get_attribute(".leaflet-control-zoom-out", "title") == "Zoom arrière"
    page.click("#langue")
    assert page.get_attribute(".leaflet-control-zoom-in", "aria-label") == "Zoom in"
    assert page.locator("#panneau-bouton").inner_text() == "Legend and tools"
    assert page.get_attribute("#recherche", "placeholder").startswith("Commune, IRIS, QPV, address")
    page.click("#langue")
    assert page.locator("label[for=recherche]").inner_text() == "Rechercher"
    assert page.outside_requests == [] and page.console_errors == []


def test_keyboard_opens_a_territory_and_double_click_does_not(browser_page, live_server):
    page = browser_page
    open_map(page, live_server)
    first = page.locator("path.territoire").first
    assert first.get_attribute("tabindex") == "0" and first.get_attribute("role") == "button"
    assert "(Commune" in first.get_attribute("aria-label")
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .popup", timeout=5000)
    assert page.get_attribute(".leaflet-popup-close-button", "aria-label") == "Fermer"
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached", timeout=5000)
    zoom = page.evaluate("window.carte.map.getZoom()")
    point = page.evaluate("""() => {
        for (const el of document.querySelectorAll('path.territoire')) {
            const r = el.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (r.width > 8 && document.elementFromPoint(x, y) === el) return [x, y];
        }
        return null; }""")
    page.mouse.dblclick(*point)
    page.wait_for_function(f"window.carte.map.getZoom() > {zoom}", timeout=5000)
    page.wait_for_timeout(600)
    assert page.locator(".leaflet-popup").count() == 0
    assert page.outside_requests == [] and page.console_errors == []


@pytest.mark.parametrize("phone", [False, True])
def test_no_serious_axe_violation(browser_page, phone_page, live_server, phone):
    page = phone_page if phone else browser_page
    open_map(page, live_server)
    if phone:
        page.click("#panneau-bouton")          # the drawer open
    page.fill("#recherche", "Roubaix")         # a popup open, the table filled
    page.wait_for_function("document.body.dataset.recherche === 'Roubaix'")
    page.keyboard.press("Enter")
    page.wait_for_selector(".leaflet-popup .popup .chiffres tr", timeout=15000)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {resultTypes: ['violations']})
        .then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => [v.id, v.impact, v.nodes.length, v.nodes.slice(0, 3).map(n => n.target.join(' '))]))""")
    assert result == []
    assert page.outside_requests == [] and page.console_errors == []
