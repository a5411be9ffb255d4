"""The web login in headless Chromium (tests/browser.py): the form, the map and its export
with the session, logout (the back button shows no data), the idle timeout, the change of
password, a form without its CSRF token refused; nothing requested from another host and
no console error on any page."""
from __future__ import annotations

from datetime import date

import psycopg
import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from auth import register

ORG = "Ville de Lys-lez-Lannoy (tests navigateur)"


@pytest.fixture(scope="module")
def people(settings, live_server):
    made = []
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        register.add_organisation(conn, ORG, "commune", date(2024, 4, 2), "DEL-2024-88")

        def make(login):
            password = register.add_user(conn, login, full_name=login.replace(".", " ").title(),
                                         email=f"{login}@lys-lez-lannoy.fr",
                                         organisation_name=ORG)
            made.append(login)
            return password

        make.conn = conn
        yield make
        conn.execute("DELETE FROM register.login_throttle WHERE key LIKE ANY(%s)",
                     [[f"{m}%" for m in made]])
        conn.execute("DELETE FROM register.account WHERE login = ANY(%s)", [made])
        conn.execute("DELETE FROM register.organisation WHERE name = %s", [ORG])


def sign_in(page, base, login, password, target="/mon-compte"):
    page.goto(f"{base}{target}")
    assert "/connexion" in page.url            # a page without session: the form first
    page.fill("#identifiant", login)
    page.fill("#mot_de_passe", password)
    page.click("#form-connexion button[type=submit]")
    page.wait_for_load_state("networkidle")


def clean(page):
    assert page.outside_requests == [], page.outside_requests
    assert page.console_errors == [], page.console_errors


def test_login_map_export_logout_and_back(anonymous_page, live_server, people):
    page = anonymous_page
    password = people("lea.nav")
    sign_in(page, live_server, "lea.nav", password, target="/carte")
    assert page.url.split("#")[0] == f"{live_server}/carte"   # the map writes its view in the fragment
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    assert page.locator("path.territoire").count() == 95
    # The map's export (a POST) carries the session's CSRF token; without it: refused.
    statuses = page.evaluate("""async () => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const body = JSON.stringify({inputs: {}});
        const ok = await fetch('/processes/export/execution', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body});
        const forged = await fetch('/processes/export/execution', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body});
        return [ok.status, await ok.text(), forged.status, await forged.text()];
    }""")
    assert "jeton" not in statuses[1] and statuses[0] not in (401, 403)
    assert statuses[2] == 400 and "jeton" in statuses[3]
    page.console_errors.clear()   # the browser logs the refused fetch itself
    page.goto(f"{live_server}/mon-compte")
    assert "Lea Nav" in page.inner_text("main")
    page.click("header button:has-text('Se déconnecter')")
    page.wait_for_load_state("networkidle")
    assert "Vous êtes déconnecté" in page.inner_text("main")
    page.go_back()
    page.wait_for_load_state("networkidle")
    assert "/connexion" in page.url
    assert "Lea Nav" not in page.content() and page.locator("path.territoire").count() == 0
    page.go_back()
    page.wait_for_load_state("networkidle")
    assert "/connexion" in page.url and page.locator("path.territoire").count() == 0
    clean(page)


def test_wrong_password_idle_timeout_and_csrf(anonymous_page, live_server, people, settings):
    page = anonymous_page
    password = people("marc.nav")
    sign_in(page, live_server, "marc.nav", "not the password at all")
    assert "incorrect" in page.inner_text("#message")
    page.console_errors.clear()   # the 401 of the form's answer is logged by Chromium
    page.fill("#mot_de_passe", password)
    page.click("#form-connexion button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/mon-compte")
    # A form whose token was removed is refused, and nothing is done.
    page.goto(f"{live_server}/mon-compte/mot-de-passe")
    page.evaluate("document.querySelector('main input[name=csrf_token]').remove()")
    page.fill("#actuel", password)
    page.fill("#nouveau", "never stored passphrase")
    page.fill("#confirmation", "never stored passphrase")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Formulaire refusé" in page.inner_text("main")
    page.console_errors.clear()   # the 400 is logged by Chromium
    # Idle for hours: the next page is the login form, which says why.
    cookie = next(c for c in page.context.cookies() if c["name"] == "portail_session")
    app = Flask("forge")
    app.secret_key = (settings.state_dir / "session.key").read_bytes().strip()
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    data = serializer.loads(cookie["value"])
    data["vu"] -= 4 * 3600
    page.context.add_cookies([{**cookie, "value": serializer.dumps(data)}])
    page.goto(f"{live_server}/mon-compte")
    assert "/connexion" in page.url
    assert "session a expiré" in page.inner_text("main")
    clean(page)


def test_change_of_password_in_the_browser(anonymous_page, live_server, people):
    page = anonymous_page
    password = people("nina.nav")
    sign_in(page, live_server, "nina.nav", password)
    page.click("text=Changer de mot de passe")
    page.fill("#actuel", password)
    page.fill("#nouveau", "nina's new passphrase")
    page.fill("#confirmation", "nina's new passphrase")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Mot de passe changé" in page.inner_text("#succes")
    page.goto(f"{live_server}/mon-compte")
    assert "Nina Nav" in page.inner_text("main")
    clean(page)


@pytest.mark.parametrize("path", ["/connexion", "/mot-de-passe-oublie",
                                  "/connexion?lang=en", "/mot-de-passe-oublie?lang=en"])
def test_public_pages_are_clean(anonymous_page, live_server, path):
    page = anonymous_page
    response = page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    assert response.status == 200
    assert "Source : Portail cartographique" in page.inner_text("footer")
    clean(page)


def test_english_switch_by_keyboard(anonymous_page, live_server, people):
    """The switch is a link reached with Tab and followed with Enter; the login done in
    English leads to « My account » in English, and the switch brings French back."""
    page = anonymous_page
    password = people("oscar.nav")
    page.goto(f"{live_server}/connexion?suivant=/mon-compte")
    assert page.get_attribute("html", "lang") == "fr"
    for _ in range(40):       # backwards from the login field (autofocus), through the menu
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") == "langue":
            break
    else:
        raise AssertionError("the English switch is not reached with the keyboard")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "en" and "lang=en" in page.url
    assert "suivant=" in page.url           # the switch keeps the page's parameters
    assert page.inner_text("h1") == "Log in"
    page.fill("#identifiant", "oscar.nav")
    page.fill("#mot_de_passe", password)
    page.click("#form-connexion button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/mon-compte?lang=en")
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("h1") == "My account"
    page.click("#langue")
    page.wait_for_load_state("networkidle")
    assert page.get_attribute("html", "lang") == "fr" and page.inner_text("h1") == "Mon compte"
    clean(page)
