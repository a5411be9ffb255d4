"""Accessibility of the portal's own pages, checked by axe-core in headless Chromium: no
serious or critical violation. axe-core is the map's vendored copy (carte/static/vendor,
pinned in web/package.json with its SHA-256), injected by the test: nothing is loaded
from a CDN."""
from __future__ import annotations

from datetime import date

import psycopg
import pytest

from auth import register
from carte.vendor import VENDOR_DIR

AXE = VENDOR_DIR / "axe-core" / "axe.min.js"
ORG = "MEL (tests accessibilité)"

PUBLIC = ["/", "/?lang=en", "/aide/", "/aide/?lang=en", "/connexion", "/connexion?lang=en",
          "/mot-de-passe-oublie", "/mot-de-passe-oublie?lang=en"]
SIGNED_IN = ["/carte", "/mon-compte", "/mon-compte?lang=en", "/mon-compte/mot-de-passe",
             "/mon-compte/mot-de-passe?lang=en", "/admin/", "/admin/?lang=en", "/admin/comptes",
             "/admin/comptes?lang=en", "/admin/organisations", "/admin/organisations?lang=en",
             "/admin/revue", "/admin/revue?lang=en", "/admin/journal", "/admin/journal?lang=en"]


@pytest.fixture(scope="module")
def administrator(settings, live_server):
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        register.add_organisation(conn, ORG, "mel", date(2024, 1, 5), "DEL-MEL-A11Y")
        password = register.add_user(conn, "alice.a11y", full_name="Alice Accessible",
                                     email="alice.a11y@lillemetropole.fr",
                                     organisation_name=ORG, role="admin")
        yield "alice.a11y", password
        conn.execute("DELETE FROM register.account WHERE login = 'alice.a11y'")
        conn.execute("DELETE FROM register.organisation WHERE name = %s", [ORG])


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    assert result["testEngine"]["name"] == "axe-core" and result["passes"] is not None
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                        for n in v["nodes"][:3])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_public_pages(anonymous_page, live_server):
    page = anonymous_page
    found = {}
    for path in PUBLIC:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        found[path] = serious_violations(page)
    assert all(not v for v in found.values()), found
    assert page.outside_requests == [] and page.console_errors == []


def test_signed_in_pages(anonymous_page, live_server, administrator):
    page = anonymous_page
    login, password = administrator
    page.goto(f"{live_server}/connexion")
    page.fill("#identifiant", login)
    page.fill("#mot_de_passe", password)
    page.click("#form-connexion button[type=submit]")
    page.wait_for_load_state("networkidle")
    found = {}
    for path in SIGNED_IN:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        assert "/connexion" not in page.url, path
        found[path] = serious_violations(page)
    assert all(not v for v in found.values()), found
    assert page.outside_requests == [] and page.console_errors == []
