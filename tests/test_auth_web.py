"""The web login over HTTP (auth/web.py, auth/websession.py): the form and its session
cookie, CSRF on every form, logout, the idle timeout, « Mon compte », the change of
password (asked at login when the password is over a year old), « Mot de passe oublié »;
basic authentication unchanged beside it."""
from __future__ import annotations

import re
import time
from datetime import date

import psycopg
import pytest
import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from auth import register
from auth.passwords import verify_password
from source_address import SourceAddress

ORG = "Ville de Wasquehal (tests connexion web)"
NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}


@pytest.fixture(scope="module")
def people(settings, live_server):
    """make(login, stale=False) -> password; the accounts are removed at the end."""
    made = []
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        register.add_organisation(conn, ORG, "commune", date(2024, 3, 1), "DEL-2024-77")

        def make(login, stale=False):
            password = register.add_user(conn, login, full_name=login.replace(".", " ").title(),
                                         email=f"{login}@ville-wasquehal.fr",
                                         organisation_name=ORG)
            if stale:
                conn.execute("UPDATE register.account SET password_changed_at = now() - "
                             "interval '400 days' WHERE login = %s", [login])
            made.append(login)
            return password

        make.conn = conn
        yield make
        conn.execute("DELETE FROM register.login_throttle WHERE key LIKE ANY(%s)",
                     [[f"{m}%" for m in made] + ["127.0.1.%", "nobody.web"]])
        conn.execute("DELETE FROM register.password_request WHERE login = ANY(%s) "
                     "OR identifier LIKE '%%wasquehal%%'", [made])
        conn.execute("DELETE FROM register.account WHERE login = ANY(%s)", [made])
        conn.execute("DELETE FROM register.organisation WHERE name = %s", [ORG])


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def sign_in(base, login, password, session=None, follow=True, address=None):
    session = session or requests.Session()
    if address:
        session.mount("http://", SourceAddress(address))
    form = session.get(f"{base}/connexion", headers=NAVIGATE)
    assert form.status_code == 200
    answer = session.post(f"{base}/connexion", allow_redirects=follow,
                          data={"csrf_token": token(form.text), "identifiant": login,
                                "mot_de_passe": password, "suivant": "/mon-compte"})
    return session, answer


def test_login_form_opens_a_session_that_reads_data(live_server, people):
    password = people("anne.web")
    session, answer = sign_in(live_server, "anne.web", password)
    assert answer.status_code == 200 and answer.url.endswith("/mon-compte")
    assert "Anne Web" in answer.text and ORG in answer.text
    assert "DEL-2024-77" in answer.text and "partenaire" in answer.text
    cookie = next(c for c in session.cookies if c.name == "portail_session")
    raw = answer.history[0].headers["Set-Cookie"]
    assert "HttpOnly" in raw and "SameSite=Lax" in raw
    assert cookie.secure is False   # plain HTTP in the tests; Secure behind TLS
    # The map's data, the dictionary and the API answer the session as they answer basic.
    items = session.get(f"{live_server}/collections/communes/items",
                        params={"f": "json", "limit": 1})
    assert items.status_code == 200 and items.json()["features"]
    assert items.headers["Cache-Control"] == "private, no-store"
    assert session.get(f"{live_server}/dictionnaire").status_code == 200
    assert session.get(f"{live_server}/carte").status_code == 200
    fiche = session.get(f"{live_server}/fiche/commune/59350", params={"f": "html"})
    assert fiche.status_code == 200 and "59350" in fiche.text
    # Public pages show who is signed in (the menu), without data.
    home = session.get(f"{live_server}/", headers={"Accept": "text/html"})
    assert "Mon compte (anne.web)" in home.text
    # The last logins come from the access log (written in batches: wait for one).
    for _ in range(100):
        account = session.get(f"{live_server}/mon-compte")
        if 'id="connexions"' in account.text:
            break
        time.sleep(0.2)
    assert 'id="connexions"' in account.text


def test_wrong_password_same_message_as_unknown_login(live_server, people):
    password = people("bruno.web")
    _, wrong = sign_in(live_server, "bruno.web", "wrong " + password, address="127.0.1.10")
    _, unknown = sign_in(live_server, "nobody.web", "wrong " + password, address="127.0.1.10")
    assert wrong.status_code == unknown.status_code == 401
    message = re.search(r'id="message">([^<]*)<', wrong.text).group(1)
    assert message == re.search(r'id="message">([^<]*)<', unknown.text).group(1)
    assert "incorrect" in message


def test_pages_without_a_session_go_to_the_form_and_programs_get_the_challenge(live_server):
    page = requests.get(f"{live_server}/carte", headers=NAVIGATE, allow_redirects=False)
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/connexion?suivant=/carte")
    program = requests.get(f"{live_server}/collections", params={"f": "json"})
    assert program.status_code == 401 and program.headers["WWW-Authenticate"].startswith("Basic")
    assert "features" not in page.text


def test_csrf_refused_on_every_form(live_server, people):
    password = people("carla.web")
    # The login form itself …
    refused = requests.post(f"{live_server}/connexion",
                            data={"identifiant": "carla.web", "mot_de_passe": password})
    assert refused.status_code == 400 and "jeton de sécurité" in refused.text
    session, _ = sign_in(live_server, "carla.web", password)
    # … the change of password, the logout, the export run by the map, forgotten password.
    for path, data in [("/mon-compte/mot-de-passe", {"actuel": password, "nouveau": "x" * 20,
                                                     "confirmation": "x" * 20}),
                       ("/deconnexion", {}),
                       ("/mot-de-passe-oublie", {"identifiant": "carla.web"})]:
        answer = session.post(f"{live_server}{path}", data=data, allow_redirects=False)
        assert answer.status_code == 400, path
        answer = session.post(f"{live_server}{path}", data={**data, "csrf_token": "forged"},
                              allow_redirects=False)
        assert answer.status_code == 400, path
    export = session.post(f"{live_server}/processes/export/execution",
                          json={"inputs": {}})
    assert export.status_code == 400 and "jeton" in export.text
    # The session is still open and the password unchanged: nothing was done.
    assert session.get(f"{live_server}/mon-compte").status_code == 200
    assert verify_password(people.conn.execute(
        "SELECT password_hash FROM register.account WHERE login = 'carla.web'").fetchone()[0],
        password)
    # Basic authentication (QGIS, scripts) needs no token: no cookie rides along.
    run = requests.post(f"{live_server}/processes/export/execution", json={"inputs": {}},
                        auth=("carla.web", password))
    assert run.status_code != 401 and "jeton" not in run.text


def test_logout_ends_the_session(live_server, people):
    password = people("denis.web")
    session, _ = sign_in(live_server, "denis.web", password)
    page = session.get(f"{live_server}/mon-compte")
    out = session.post(f"{live_server}/deconnexion", data={"csrf_token": token(page.text)})
    assert out.status_code == 200 and "Vous êtes déconnecté" in out.text
    again = session.get(f"{live_server}/collections/communes/items", params={"f": "json"})
    assert again.status_code == 401
    assert session.get(f"{live_server}/mon-compte", headers=NAVIGATE,
                       allow_redirects=False).status_code == 303


def _forge(settings, cookie: str, **changes) -> str:
    """The session cookie with some values changed, signed with the portal's key (the
    state folder's), as if time had passed."""
    app = Flask("forge")
    app.secret_key = (settings.state_dir / "session.key").read_bytes().strip()
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    data = serializer.loads(cookie)
    for key, delta in changes.items():
        data[key] = data[key] + delta
    return serializer.dumps(data)


def test_idle_timeout(live_server, people, settings):
    password = people("emma.web")
    session, _ = sign_in(live_server, "emma.web", password)
    cookie = session.cookies.get("portail_session")
    session.cookies.clear()
    session.cookies.set("portail_session", _forge(settings, cookie, vu=-3 * 3600))
    page = session.get(f"{live_server}/mon-compte", headers=NAVIGATE)
    assert page.url.split("?")[0].endswith("/connexion")
    assert "session a expiré" in page.text
    # A tampered cookie (not signed by the portal) is no session at all.
    session.cookies.clear()
    session.cookies.set("portail_session", cookie[:-4] + "AAAA")
    assert session.get(f"{live_server}/collections", params={"f": "json"}).status_code == 401


def test_a_session_ends_after_its_maximum_length_whatever_its_activity(live_server, people,
                                                                       settings):
    """A copied cookie replayed within the idle timeout does not live for ever."""
    password = people("yann.web")
    session, _ = sign_in(live_server, "yann.web", password)
    cookie = session.cookies.get("portail_session")
    session.cookies.clear()
    session.cookies.set("portail_session", _forge(settings, cookie, depuis=-13 * 3600))
    assert session.get(f"{live_server}/collections", params={"f": "json"}).status_code == 401
    session.cookies.clear()
    session.cookies.set("portail_session", _forge(settings, cookie, depuis=-11 * 3600))
    assert session.get(f"{live_server}/collections", params={"f": "json"}).status_code == 200


def test_basic_credentials_never_reach_a_sessions_cache_entry(live_server, people, settings):
    """The gate caches checked Basic credentials and browser sessions: a Basic login
    « session » with the password « <login>\\0<stamp> » (the stamp is readable in the
    signed cookie) must not be taken for the signed-in user."""
    password = people("zoe.web")
    session, _ = sign_in(live_server, "zoe.web", password)
    for _ in range(8):   # the session cached by every worker of the server
        assert session.get(f"{live_server}/collections", params={"f": "json"}).status_code == 200
    from flask.sessions import SecureCookieSessionInterface as Interface
    app = Flask("read")
    app.secret_key = (settings.state_dir / "session.key").read_bytes().strip()
    stamp = Interface().get_signing_serializer(app).loads(
        session.cookies.get("portail_session"))["pwd"]
    for login, secret in [("session", f"zoe.web\x00{stamp}"),
                          ("session\x00zoe.web", stamp)] * 4:
        answer = requests.get(f"{live_server}/collections", params={"f": "json"},
                              auth=(login, secret))
        assert answer.status_code in (401, 429), (login, answer.status_code)


def test_a_cross_site_post_is_refused_even_with_basic_credentials(live_server, people):
    """A browser adds the Basic credentials it remembers to another site's form: an
    unsafe request from another site is refused whatever its authentication."""
    password = people("jade.web")
    answer = requests.post(f"{live_server}/mon-compte/mot-de-passe", auth=("jade.web", password),
                           headers={"Sec-Fetch-Site": "cross-site"},
                           data={"actuel": password, "nouveau": "x", "confirmation": "x"})
    assert answer.status_code == 403
    same = requests.post(f"{live_server}/processes/export/execution", auth=("jade.web", password),
                         headers={"Sec-Fetch-Site": "same-origin"}, json={"inputs": {}})
    assert same.status_code != 403


def test_change_of_password(live_server, people):
    password = people("fanny.web")
    session, page = sign_in(live_server, "fanny.web", password)
    form = session.get(f"{live_server}/mon-compte/mot-de-passe")
    short = session.post(f"{live_server}/mon-compte/mot-de-passe",
                         data={"csrf_token": token(form.text), "actuel": password,
                               "nouveau": "court", "confirmation": "court"})
    assert short.status_code == 400 and "trop court" in short.text
    wrong = session.post(f"{live_server}/mon-compte/mot-de-passe",
                         data={"csrf_token": token(form.text), "actuel": "not it at all",
                               "nouveau": "a brand new passphrase", "confirmation":
                               "a brand new passphrase"})
    assert wrong.status_code == 400 and "actuel incorrect" in wrong.text
    done = session.post(f"{live_server}/mon-compte/mot-de-passe",
                        data={"csrf_token": token(form.text), "actuel": password,
                              "nouveau": "a brand new passphrase",
                              "confirmation": "a brand new passphrase"})
    assert done.status_code == 200 and "Mot de passe changé" in done.text
    stored = people.conn.execute("SELECT password_hash FROM register.account "
                                 "WHERE login = 'fanny.web'").fetchone()[0]
    assert stored.startswith("$argon2id$")
    # This session goes on; the old password is refused; the new one works with basic.
    assert session.get(f"{live_server}/mon-compte").status_code == 200
    url = f"{live_server}/collections"
    assert requests.get(url, auth=("fanny.web", "a brand new passphrase")).status_code == 200
    assert requests.get(url, auth=("fanny.web", password)).status_code == 401


def _refused_soon(session, url):
    """The register's change reaches every worker through LISTEN/NOTIFY: poll until the
    session is refused, then check that it stays refused."""
    for _ in range(200):
        if session.get(url, params={"f": "json"}).status_code == 401:
            break
        time.sleep(0.05)
    return [session.get(url, params={"f": "json"}).status_code for _ in range(6)]


def test_other_sessions_end_when_the_administrator_acts(live_server, people):
    password = people("gaspard.web")
    session, _ = sign_in(live_server, "gaspard.web", password)
    url = f"{live_server}/collections"
    for _ in range(4):   # every worker has checked, then cached, the session
        assert session.get(url, params={"f": "json"}).status_code == 200
    register.reset_password(people.conn, "gaspard.web")
    assert _refused_soon(session, url) == [401] * 6
    other = people("hugo.web")
    session, _ = sign_in(live_server, "hugo.web", other)
    for _ in range(4):
        assert session.get(url, params={"f": "json"}).status_code == 200
    register.disable_user(people.conn, "hugo.web", "départ de l'agent")
    assert _refused_soon(session, url) == [401] * 6


def test_stale_password_is_changed_at_login_instead_of_refused(live_server, people):
    password = people("ines.web", stale=True)
    url = f"{live_server}/collections"
    assert requests.get(url, auth=("ines.web", password)).status_code == 401   # basic: refused
    session, answer = sign_in(live_server, "ines.web", password)
    assert answer.url.endswith("/mon-compte/mot-de-passe")
    assert "plus d'un an" in answer.text
    # Nothing else opens before the change.
    held = session.get(f"{live_server}/collections", params={"f": "json"}, allow_redirects=False)
    assert held.status_code == 303 and held.headers["Location"] == "/mon-compte/mot-de-passe"
    done = session.post(f"{live_server}/mon-compte/mot-de-passe",
                        data={"csrf_token": token(answer.text), "actuel": password,
                              "nouveau": "renewed for one more year",
                              "confirmation": "renewed for one more year"})
    assert "Mot de passe changé" in done.text
    assert session.get(url, params={"f": "json"}).status_code == 200
    assert requests.get(url, auth=("ines.web", "renewed for one more year")).status_code == 200


def test_forgotten_password_records_a_request_and_says_nothing(live_server, people):
    people("jules.web")
    answers = []
    for identifier in ("jules.web@ville-wasquehal.fr", "nobody@ville-wasquehal.fr"):
        with requests.Session() as session:
            form = session.get(f"{live_server}/mot-de-passe-oublie")
            answers.append(session.post(f"{live_server}/mot-de-passe-oublie",
                                        data={"csrf_token": token(form.text),
                                              "identifiant": identifier}))
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[0].text == answers[1].text
    rows = people.conn.execute("SELECT identifier, login FROM register.password_request "
                               "WHERE identifier LIKE '%%wasquehal%%' AND handled_at IS NULL "
                               "ORDER BY request_id").fetchall()
    assert rows == [("jules.web@ville-wasquehal.fr", "jules.web"),
                    ("nobody@ville-wasquehal.fr", None)]


def test_next_page_stays_on_this_site(live_server, people):
    password = people("karim.web")
    for target in ("https://elsewhere.example/", "//elsewhere.example/x", "/\\elsewhere"):
        session = requests.Session()
        form = session.get(f"{live_server}/connexion")
        answer = session.post(f"{live_server}/connexion", allow_redirects=False,
                              data={"csrf_token": token(form.text), "identifiant": "karim.web",
                                    "mot_de_passe": password, "suivant": target})
        assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_forgotten_password_requests_are_bounded_per_address(live_server, people):
    with requests.Session() as session:
        session.mount("http://", SourceAddress("127.0.1.20"))
        for i in range(7):
            form = session.get(f"{live_server}/mot-de-passe-oublie")
            answer = session.post(f"{live_server}/mot-de-passe-oublie",
                                  data={"csrf_token": token(form.text),
                                        "identifiant": f"flood{i}@wasquehal.example"})
            assert answer.status_code == 200 and "Demande enregistrée" in answer.text
    count = people.conn.execute("SELECT count(*) FROM register.password_request "
                                "WHERE address = '127.0.1.20'").fetchone()[0]
    assert count == 5
    people.conn.execute("DELETE FROM register.password_request WHERE address = '127.0.1.20'")


def test_the_form_applies_the_brute_force_rules(live_server, people):
    password = people("lucie.web")
    answers = [sign_in(live_server, "lucie.web", f"guess number {i}",
                       address="127.0.1.30")[1].status_code for i in range(5)]
    assert answers == [401] * 5
    _, locked = sign_in(live_server, "lucie.web", password, address="127.0.1.30")
    assert locked.status_code == 429 and "Trop de tentatives" in locked.text
    # The same lock holds basic authentication from that address.
    with requests.Session() as session:
        session.mount("http://", SourceAddress("127.0.1.30"))
        assert session.get(f"{live_server}/collections", params={"f": "json"},
                           auth=("lucie.web", password)).status_code == 429


def english(answer) -> str:
    """The text of an English page (``?lang=en``): ``<html lang="en">``, Content-Language."""
    assert answer.status_code in (200, 400, 401), answer.status_code
    assert '<html lang="en">' in answer.text, answer.url
    return answer.text


def test_pages_are_french_by_default_and_english_on_demand(live_server, people):
    """« French first (English switch) »: the login, forgotten password, account and
    password pages, their forms, messages and redirects, in English with ``?lang=en``."""
    password = people("olga.web")
    form = requests.get(f"{live_server}/connexion")
    assert '<html lang="fr">' in form.text and "Mot de passe oublié ?" in form.text
    assert 'href="/connexion?lang=en"' in form.text and ">English</a>" in form.text
    text = english(requests.get(f"{live_server}/connexion", params={"lang": "en"}))
    for label in ("Login", "Password", "Log in", "Forgotten password?", ">Français</a>"):
        assert label in text, label
    for french in ("Identifiant", "Mot de passe", "Se connecter", "Mot de passe oublié"):
        assert french not in text, french
    assert 'action="/connexion?lang=en"' in text
    # A wrong password: the answer in English too.
    session = requests.Session()
    form = session.get(f"{live_server}/connexion", params={"lang": "en"})
    wrong = session.post(f"{live_server}/connexion?lang=en",
                         data={"csrf_token": token(form.text), "identifiant": "olga.web",
                               "mot_de_passe": "wrong " + password})
    assert wrong.status_code == 401 and "Wrong login or password" in english(wrong)
    assert "incorrect" not in wrong.text
    # Signed in from the English form: the next page stays English.
    answer = session.post(f"{live_server}/connexion?lang=en", allow_redirects=False,
                          data={"csrf_token": token(form.text), "identifiant": "olga.web",
                                "mot_de_passe": password, "suivant": "/mon-compte"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/mon-compte?lang=en"
    text = english(session.get(f"{live_server}/mon-compte", params={"lang": "en"}))
    for label in ("My account", "Login", "Role", "partner", "Change password", "Last logins",
                  "Log out", "Data dictionary", "Training materials"):
        assert label in text, label
    for french in ("Mon compte", "Rôle", "partenaire", "Changer de mot de passe",
                   "Dernières connexions", "Se déconnecter", "Supports de formation"):
        assert french not in text, french
    french_page = session.get(f"{live_server}/mon-compte")
    assert '<html lang="fr">' in french_page.text and "Dernières connexions" in french_page.text
    text = english(session.get(f"{live_server}/mon-compte/mot-de-passe",
                               params={"lang": "en"}))
    for label in ("Change password", "Current password", "New password, again",
                  "Change the password"):
        assert label in text, label
    for french in ("Mot de passe actuel", "Nouveau mot de passe", "Changer le mot de passe"):
        assert french not in text, french
    assert 'action="/mon-compte/mot-de-passe?lang=en"' in text
    done = session.post(f"{live_server}/mon-compte/mot-de-passe?lang=en",
                        data={"csrf_token": token(text), "actuel": password,
                              "nouveau": "olga's English password",
                              "confirmation": "olga's English password"})
    assert "Password changed" in english(done) and "Mot de passe changé" not in done.text
    out = session.post(f"{live_server}/deconnexion?lang=en", allow_redirects=False,
                       data={"csrf_token": token(done.text)})
    assert out.headers["Location"] == "/connexion?au-revoir=1&lang=en"
    assert "You are logged out." in english(session.get(live_server + out.headers["Location"]))
    # Forgotten password.
    french_page = requests.get(f"{live_server}/mot-de-passe-oublie")
    assert '<html lang="fr">' in french_page.text and "Envoyer la demande" in french_page.text
    with requests.Session() as other:
        form = other.get(f"{live_server}/mot-de-passe-oublie", params={"lang": "en"})
        text = english(form)
        for label in ("Forgotten password", "Login or e-mail address", "Send the request"):
            assert label in text, label
        for french in ("Mot de passe oublié", "Identifiant ou adresse", "Envoyer la demande"):
            assert french not in text, french
        sent = other.post(f"{live_server}/mot-de-passe-oublie?lang=en",
                          data={"csrf_token": token(form.text),
                                "identifiant": "nobody.english@wasquehal.example"})
        assert "Request recorded" in english(sent) and "Demande enregistrée" not in sent.text
    # A page asked without a session: the login form in the language asked.
    page = requests.get(f"{live_server}/mon-compte", params={"lang": "en"}, headers=NAVIGATE,
                        allow_redirects=False)
    assert page.status_code == 303 and page.headers["Location"].endswith("lang=en")


def test_register_refusal_in_english_on_the_english_form(live_server, people):
    """A refusal of the register (by its code) in English on the English form; French on
    the French form and to basic authentication."""
    password = people("pablo.web")
    register.disable_user(people.conn, "pablo.web", "départ")
    session = requests.Session()
    form = session.get(f"{live_server}/connexion", params={"lang": "en"})
    refused = session.post(f"{live_server}/connexion?lang=en",
                           data={"csrf_token": token(form.text), "identifiant": "pablo.web",
                                 "mot_de_passe": password})
    assert refused.status_code == 401
    assert "Account disabled on" in english(refused) and "(départ)" in refused.text
    _, french = sign_in(live_server, "pablo.web", password)
    assert french.status_code == 401 and "Compte désactivé le" in french.text
    basic = requests.get(f"{live_server}/collections", params={"f": "json"},
                         auth=("pablo.web", password))
    assert basic.status_code == 401 and "Compte désactivé" in basic.text
