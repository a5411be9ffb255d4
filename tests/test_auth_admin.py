"""The administration console in headless Chromium (auth/admin.py): organisations, accounts
(create, import of the annexed list with its refused lines, disable, enable, reset with a
password shown once), the yearly review in one confirmed step, the access log (search,
CSV), the welcome letter (PDF, the dictionary attached, never the password); role admin
only; every action in the access log with the administrator's login; no password in a log;
nothing from another host, no console error."""
from __future__ import annotations

import re
import time
from datetime import date

import psycopg
import pytest
import requests

from auth import register

MEL = "MEL (tests console)"
COMMUNE = "Ville de Tourcoing (tests console)"
BUREAU = "Bureau Études Nord (tests console)"


@pytest.fixture(scope="module")
def admin(settings, live_server):
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        register.add_organisation(conn, MEL, "mel", date(2024, 1, 5), "DEL-MEL-1")
        register.add_organisation(conn, COMMUNE, "commune", date(2024, 2, 5), "DEL-TC-9")
        password = register.add_user(conn, "anne.console", full_name="Admin Console",
                                     email="anne.console@lillemetropole.fr",
                                     organisation_name=MEL, role="admin")
        partner = register.add_user(conn, "simple.partenaire", full_name="Simple Partenaire",
                                    email="simple.partenaire@ville-tourcoing.fr",
                                    organisation_name=COMMUNE)
        yield {"conn": conn, "password": password, "partner": partner}
        conn.execute("DELETE FROM register.account WHERE organisation_id IN (SELECT "
                     "organisation_id FROM register.organisation WHERE name = ANY(%s))",
                     [[MEL, COMMUNE, BUREAU]])
        conn.execute("DELETE FROM register.organisation WHERE name = ANY(%s)",
                     [[MEL, COMMUNE, BUREAU]])


def sign_in(page, base, login, password):
    page.goto(f"{base}/connexion?suivant=/admin/")
    page.fill("#identifiant", login)
    page.fill("#mot_de_passe", password)
    page.click("#form-connexion button[type=submit]")
    page.wait_for_load_state("networkidle")


def submit(page, form_selector):
    page.click(f"{form_selector} button[type=submit]")
    page.wait_for_load_state("networkidle")


def clean(page):
    assert page.outside_requests == [], page.outside_requests
    assert page.console_errors == [], page.console_errors


def test_only_admins_open_the_console(live_server, admin):
    answer = requests.get(f"{live_server}/admin/comptes",
                          auth=("simple.partenaire", admin["partner"]))
    assert answer.status_code == 403
    assert requests.get(f"{live_server}/admin/comptes").status_code == 401
    ok = requests.get(f"{live_server}/admin/comptes", auth=("anne.console", admin["password"]))
    assert ok.status_code == 200 and "simple.partenaire" in ok.text


def test_every_admin_flow(anonymous_page, live_server, admin, settings, tmp_path):
    page = anonymous_page
    conn = admin["conn"]
    sign_in(page, live_server, "anne.console", admin["password"])
    assert page.url.endswith("/admin/")
    assert page.locator("header a[href='/admin/']").count() == 1

    # Organisations: a third party with its convention, deliberation and end date.
    page.goto(f"{live_server}/admin/organisations")
    page.fill("#nom", BUREAU)
    page.select_option("#type", "tiers")
    page.fill("#signee_le", "2024-05-02")
    page.fill("#deliberation", "CONV-T-77")
    page.fill("#fin_mission", "2030-06-30")
    submit(page, "#form-organisation")
    assert "enregistrée" in page.inner_text("#message")
    assert BUREAU in page.inner_text("#organisations")
    bureau_id = conn.execute("SELECT organisation_id FROM register.organisation WHERE name = %s",
                             [BUREAU]).fetchone()[0]
    page.fill(f"#fin-{bureau_id}", "2031-01-31")
    page.click(f"form[action='/admin/organisations/{bureau_id}/fin-mission'] button")
    page.wait_for_load_state("networkidle")
    assert "Fin de mission enregistrée" in page.inner_text("h1")
    assert conn.execute("SELECT assignment_ends_on FROM register.organisation WHERE name = %s",
                        [BUREAU]).fetchone()[0] == date(2031, 1, 31)

    # An account, created from the console: its password shown once.
    page.goto(f"{live_server}/admin/comptes")
    page.fill("#form-compte #nom", "Paul Martin")
    page.fill("#form-compte #email", "paul.martin@ville-tourcoing.fr")
    page.select_option("#form-compte #organisation", COMMUNE)
    submit(page, "#form-compte")
    assert page.inner_text("#mots-de-passe .identifiant") == "paul.martin"
    first_password = page.inner_text("#mots-de-passe .mot-de-passe")
    assert requests.get(f"{live_server}/collections", params={"f": "json"},
                        auth=("paul.martin", first_password)).status_code == 200

    # Import of the annexed list: created lines and refused lines with their reason.
    annex = tmp_path / "annexe.csv"
    annex.write_text("nom;email;organisation;role\n"
                     "Julie Roux;julie.roux@ville-tourcoing.fr;" + COMMUNE + ";partenaire\n"
                     "Accueil;accueil@ville-tourcoing.fr;" + COMMUNE + ";partenaire\n"
                     "Marc Nul;marc.nul@exemple.fr;Organisation inconnue;partenaire\n",
                     encoding="utf-8")
    page.goto(f"{live_server}/admin/comptes")
    page.set_input_files("#fichier", str(annex))
    submit(page, "#form-import")
    assert "1 compte(s) créé(s), 2 ligne(s) refusée(s)" in page.inner_text("main")
    refused = page.inner_text("#refusees")
    assert "accueil@" in refused and "Organisation inconnue" in refused
    assert page.inner_text("#mots-de-passe .identifiant") == "julie.roux"

    # Disable, enable, reset.
    page.goto(f"{live_server}/admin/comptes?q=paul.martin")
    row = page.locator("#compte-paul\\.martin")
    row.locator("input[name=motif]").fill("départ de l'agent")
    row.locator("button:has-text('Désactiver')").click()
    page.wait_for_load_state("networkidle")
    assert "désactivé" in page.inner_text("#message")
    assert conn.execute("SELECT disabled_reason FROM register.account WHERE login = "
                        "'paul.martin'").fetchone()[0] == "départ de l'agent"
    page.goto(f"{live_server}/admin/comptes?q=paul.martin")
    page.locator("#compte-paul\\.martin button:has-text('Réactiver')").click()
    page.wait_for_load_state("networkidle")
    assert "réactivé" in page.inner_text("#message")
    page.goto(f"{live_server}/admin/comptes?q=paul.martin")
    page.locator("#compte-paul\\.martin button:has-text('Nouveau mot de passe')").click()
    page.wait_for_load_state("networkidle")
    new_password = page.inner_text("#mots-de-passe .mot-de-passe")
    assert new_password != first_password
    page.go_back()   # shown once: the answer to the POST is not kept
    page.wait_for_load_state("networkidle")
    assert new_password not in page.content()

    # The welcome letter: a PDF with the login and the dictionary attached, no password.
    with page.expect_download() as info:
        page.evaluate("location.href = '/admin/comptes/paul.martin/lettre.pdf'")
    letter = tmp_path / "lettre.pdf"
    info.value.save_as(letter)
    raw = letter.read_bytes()
    assert raw.startswith(b"%PDF-") and b"/EmbeddedFile" in raw
    assert new_password.encode() not in raw

    # The yearly review: an unused account and a stale password, confirmed in one step.
    conn.execute("UPDATE register.account SET created_at = now() - interval '2 years', "
                 "last_login_at = NULL, reactivated_at = NULL WHERE login = 'julie.roux'")
    conn.execute("UPDATE register.account SET password_changed_at = now() - interval "
                 "'400 days' WHERE login = 'paul.martin'")
    page.goto(f"{live_server}/admin/revue")
    assert "julie.roux" in page.inner_text("#inutilises")
    assert "paul.martin" in page.inner_text("#a-renouveler")
    page.check("#confirmer")
    submit(page, "#form-revue")
    assert "julie.roux" in page.inner_text("#desactives")
    assert "paul.martin" in page.inner_text("#mots-de-passe")
    assert conn.execute("SELECT disabled_at IS NOT NULL FROM register.account WHERE login = "
                        "'julie.roux'").fetchone()[0]

    # Forgotten password: the request appears on the dashboard.
    conn.execute("SELECT register.gate_request_password('simple.partenaire', '127.0.0.1')")
    page.goto(f"{live_server}/admin/")
    assert "simple.partenaire" in page.inner_text("#demandes")
    page.click("#demandes tr:has-text('simple.partenaire') button:has-text('Marquer traitée')")
    page.wait_for_load_state("networkidle")
    assert "traitée" in page.inner_text("#message")
    assert conn.execute("SELECT handled_by FROM register.password_request WHERE login = "
                        "'simple.partenaire'").fetchone()[0] == "anne.console"

    # The access log: every action, with the administrator's login and its object.
    routes = set()
    for _ in range(100):
        routes = {r[0] for r in conn.execute(
            "SELECT route FROM register.audit_log WHERE login = 'anne.console' "
            "AND method = 'POST'").fetchall()}
        if "/admin/revue" in routes:
            break
        time.sleep(0.1)
    for route in ("/admin/organisations", "/admin/comptes", "/admin/comptes/import",
                  "/admin/comptes/paul.martin/desactiver", "/admin/comptes/paul.martin/reactiver",
                  "/admin/comptes/paul.martin/reinitialiser", "/admin/revue"):
        assert route in routes, route
    page.goto(f"{live_server}/admin/journal")
    page.fill("#form-journal #identifiant", "anne.console")
    submit(page, "#form-journal")
    assert "/admin/comptes/paul.martin/desactiver" in page.inner_text("#journal")
    with page.expect_download() as info:
        page.click("#export-csv")
    export = tmp_path / "journal.csv"
    info.value.save_as(export)
    text = export.read_text(encoding="utf-8")
    assert text.startswith("horodatage;identifiant") and "/admin/revue" in text

    # No password in any log.
    log = settings.server_logfile.read_text(errors="replace")
    for secret in (first_password, new_password, admin["password"]):
        assert secret not in log
    assert "admin action by anne.console" in log
    clean(page)


def test_admin_forms_need_the_csrf_token(live_server, admin):
    session = requests.Session()
    form = session.get(f"{live_server}/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    session.post(f"{live_server}/connexion", data={"csrf_token": token,
                                                    "identifiant": "anne.console",
                                                    "mot_de_passe": admin["password"]})
    answer = session.post(f"{live_server}/admin/comptes/simple.partenaire/desactiver",
                          data={"motif": "forged"})
    assert answer.status_code == 400
    assert admin["conn"].execute("SELECT disabled_at FROM register.account WHERE login = "
                                 "'simple.partenaire'").fetchone()[0] is None


ENGLISH = {  # page: (English labels that must be there, French labels that must not)
    "/admin/": (["The portal's administration", "Password requests", "Yearly review",
                 "Dashboard", "Accounts", "Access log"],
                ["Administration du portail", "Demandes de mot de passe", "Tableau de bord",
                 "Journal des accès"]),
    "/admin/comptes": (["Accounts", "Search for", "Status", "Last login", "Create an account",
                        "Full name", "Role", "<td>partner</td>", "Create the account", "Disable",
                        "New password", "Welcome letter (PDF)", "Import", "active"],
                       ["Rechercher", "Statut", "Dernière connexion", "Créer un compte",
                        "Nom et prénom", "Rôle", "<td>partenaire</td>", "Désactiver",
                        "Nouveau mot de passe", "Lettre d'accueil", "Importer"]),
    "/admin/organisations": (["Signatory organisations", "Kind", "End of assignment",
                              "Active accounts", "Record an organisation",
                              "Convention signed on", "social landlord", "Record"],
                             ["Organisations signataires", "Fin de mission", "Comptes actifs",
                              "Enregistrer", "Convention signée le", "bailleur social"]),
    "/admin/revue": (["Yearly review of the accounts", "Accounts unused for a year",
                      "Expired accounts", "Apply the review", "I have checked these lists"],
                     ["Revue annuelle des comptes", "Comptes inutilisés", "Comptes expirés",
                      "Appliquer la revue", "J'ai vérifié"]),
    "/admin/journal": (["Access log", "Login", "Since", "Until", "Search", "Export as CSV",
                        "Time", "Method"],
                       ["Journal des accès", "Identifiant", "Depuis", "Jusqu'au", "Chercher",
                        "Exporter en CSV", "Horodatage", "Méthode"]),
}


def test_console_in_english_on_demand(live_server, admin):
    """French first, English with ``?lang=en``: every page of the console, its forms and
    links keep the language; the answers to its actions too."""
    basic = ("anne.console", admin["password"])
    for path, (labels, french) in ENGLISH.items():
        page = requests.get(f"{live_server}{path}", auth=basic)
        assert page.status_code == 200 and '<html lang="fr">' in page.text, path
        assert all(word in page.text for word in french), path
        assert f'href="{path}?lang=en"' in page.text, path
        page = requests.get(f"{live_server}{path}", params={"lang": "en"}, auth=basic)
        assert page.status_code == 200 and '<html lang="en">' in page.text, path
        assert page.headers["Cache-Control"] == "private, no-store"
        missing = [word for word in labels if word not in page.text]
        left = [word for word in french if word in page.text]
        assert not missing and not left, (path, missing, left)
        assert f'<a href="{path}" lang="fr" hreflang="fr" id="langue">Français</a>' \
            in page.text, path
    # Links and forms keep the language.
    page = requests.get(f"{live_server}/admin/comptes", params={"lang": "en"}, auth=basic).text
    assert 'action="/admin/comptes?lang=en"' in page and 'href="/admin/journal?lang=en"' in page
    assert 'action="/admin/comptes/simple.partenaire/reinitialiser?lang=en"' in page
    # A search keeps it (the GET forms carry it) and the switch keeps the search.
    page = requests.get(f"{live_server}/admin/journal", auth=basic,
                        params={"identifiant": "x", "lang": "en"}).text
    assert '<input type="hidden" name="lang" value="en">' in page
    assert 'href="/admin/journal?identifiant=x"' in page
    # An answer to an action, in English: a refused search.
    refused = requests.get(f"{live_server}/admin/journal", auth=basic,
                           params={"depuis": "hier", "lang": "en"})
    assert refused.status_code == 400 and '<html lang="en">' in refused.text
    assert "Search refused" in refused.text and "Invalid date" in refused.text
    assert 'href="/admin/journal?lang=en">Back</a>' in refused.text
    french = requests.get(f"{live_server}/admin/journal", auth=basic, params={"depuis": "hier"})
    assert "Recherche refusée" in french.text and "Date invalide" in french.text
