"""The home page and the training pages in headless Chromium: nothing from another host, no
console error, the English switch; the training page's screenshots are taken here, from
the real product (carte/static/aide/*.png, served on /aide/)."""
from __future__ import annotations

import os

from carte.accueil import SCREENSHOTS_DIR


def clean(page):
    assert page.outside_requests == [], page.outside_requests
    assert page.console_errors == [], page.console_errors


def test_home_page_and_english_switch(anonymous_page, live_server):
    page = anonymous_page
    response = page.goto(f"{live_server}/")
    page.wait_for_load_state("networkidle")
    assert response.status == 200
    assert page.locator("h1").inner_text().startswith("Portail cartographique")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.click("text=English")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "For whom" in page.inner_text("main")
    page.click("text=Français")
    page.click("#lien-carte")   # the map needs an account: the login form
    page.wait_for_load_state("networkidle")
    assert "/connexion" in page.url
    clean(page)


def test_training_page(anonymous_page, live_server):
    page = anonymous_page
    page.goto(f"{live_server}/aide/")
    page.wait_for_load_state("networkidle")
    assert "Se former au portail" in page.inner_text("h1")
    assert page.locator("#qgis ~ figure img").count() >= 1 or \
        not (SCREENSHOTS_DIR / "qgis-connexion.png").exists()
    for img in page.locator("main img").all():
        assert page.evaluate("i => i.complete && i.naturalWidth > 0", img.element_handle())
    clean(page)


def captures_dir(tmp_path):
    """Where the screenshots go: the training page's folder with PORTAIL_CAPTURES=1 (to
    refresh the committed pictures), else a temporary folder (a test run leaves the tree
    as it was)."""
    return SCREENSHOTS_DIR if os.environ.get("PORTAIL_CAPTURES") == "1" else tmp_path


def test_screenshots_for_the_training_page(browser_page, live_server, tmp_path):
    """The map and a sheet, as a user sees them, for the training page."""
    page = browser_page
    out = captures_dir(tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server}/carte")
    page.wait_for_function("window.carteRendu !== undefined", timeout=30000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "carte.png"))
    page.goto(f"{live_server}/fiche/commune/59350?f=html")
    page.wait_for_load_state("networkidle")
    assert "59350" in page.inner_text("body")
    page.screenshot(path=str(out / "fiche.png"))
    clean(page)
    anonymous = page.context.browser.new_context().new_page()
    anonymous.goto(f"{live_server}/aide/")
    assert anonymous.locator("img[src='/static/carte/aide/carte.png']").count() == 1
    anonymous.context.close()
