"""The convention's rules at the gate, over HTTP against the real server.

The reason of a refusal reaches only someone who gave the right password;
a wrong password gets the same 401 as an unknown login, whatever the state
of the account.
"""
from __future__ import annotations

import time
from datetime import date, timedelta

import psycopg
import pytest
import requests

from auth import register
from source_address import SourceAddress

ORG = "Ville de Tourcoing (tests du guichet)"
THIRD = "Bureau Relogement (tests du guichet)"
# Failed attempts count per address: these tests come from their own loopback
# address, whose counters are reset after each test, not to lock 127.0.0.1.
SOURCE = "127.0.0.21"



def client(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddress(address))
    return session


CLIENT = client(SOURCE)


@pytest.fixture(autouse=True)
def _forget_failures(owner_conn):
    yield
    owner_conn.execute("DELETE FROM register.login_throttle WHERE scope = 'address' AND key = %s",
                       [SOURCE])


@pytest.fixture(scope="module")
def people(settings, live_server):
    """Make accounts; yields make(login, …) -> password; removes them at the end."""
    made = []
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        register.add_organisation(conn, ORG, "commune", date(2024, 1, 10), "DEL-2024-001")
        register.add_organisation(conn, THIRD, "tiers", date(2024, 1, 10), "CONV-T-9",
                                  ends_on=date.today() + timedelta(days=60))

        def make(login, organisation=ORG, **days_ago):
            role = "third_party" if organisation == THIRD else "partner"
            password = register.add_user(conn, login, full_name=login.title(),
                                         email=f"{login}@tests-guichet.fr",
                                         organisation_name=organisation, role=role)
            for column, days in days_ago.items():
                conn.execute(psycopg.sql.SQL("UPDATE register.account SET {} = now() - "
                                             "make_interval(days => %s) WHERE login = %s")
                             .format(psycopg.sql.Identifier(column)), [days, login])
            made.append(login)
            return password

        make.conn = conn
        yield make
        conn.execute("DELETE FROM register.account WHERE login = ANY(%s)", [made])
        conn.execute("DELETE FROM register.organisation WHERE name = ANY(%s)", [[ORG, THIRD]])


def get(url, login, password):
    return CLIENT.get(f"{url}/collections/communes/items", params={"f": "json", "limit": 1},
                      auth=(login, password), timeout=30)


def assert_generic_401(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert "manquant ou incorrect" in response.json()["description"]


def test_active_account_gets_data(people, live_server):
    password = people("active.user")
    r = get(live_server, "active.user", password)
    assert r.status_code == 200 and r.json()["features"]
    assert r.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("login, days_ago, organisation, expected", [
    ("stale.password", {"password_changed_at": 366}, ORG, "Mot de passe de plus d'un an"),
    ("dormant.user", {"created_at": 400, "last_login_at": 370}, ORG, "inutilisé depuis plus d'un an"),
    ("never.used", {"created_at": 400}, ORG, "inutilisé depuis plus d'un an"),
])
def test_refused_with_the_reason_when_the_password_is_right(people, live_server, login,
                                                             days_ago, organisation, expected):
    password = people(login, organisation, **days_ago)
    wrong = get(live_server, login, password + "x")
    assert_generic_401(wrong)
    assert expected not in wrong.text
    right = get(live_server, login, password)
    assert right.status_code == 401
    assert expected in right.json()["description"]
    assert "administrateur" in right.json()["description"]
    assert "features" not in right.text


def test_unused_for_a_year_is_deactivated_at_login(people, live_server):
    password = people("sleepy.user", created_at=500, last_login_at=380)
    assert "inutilisé" in get(live_server, "sleepy.user", password).text
    state = people.conn.execute("SELECT disabled_at IS NOT NULL, disabled_reason FROM "
                                "register.account WHERE login = 'sleepy.user'").fetchone()
    assert state[0] and "inutilisé" in state[1]
    # From now on it is a disabled account, until the administrator re-enables it.
    assert "désactivé" in get(live_server, "sleepy.user", password).json()["description"]
    register.enable_user(people.conn, "sleepy.user")
    assert get(live_server, "sleepy.user", password).status_code == 200


def test_third_party_stops_at_the_end_of_its_assignment(people, live_server):
    password = people("consultant.bureau", THIRD)
    assert get(live_server, "consultant.bureau", password).status_code == 200
    register.set_assignment_end(people.conn, THIRD, date.today() - timedelta(days=1))
    try:
        refused = _eventually_refused(live_server, "consultant.bureau", password)
        assert "mission" in refused.json()["description"]
        assert_generic_401(get(live_server, "consultant.bureau", "not the password!"))
    finally:
        register.set_assignment_end(people.conn, THIRD, date.today() + timedelta(days=60))


def test_expired_account_is_refused(people, live_server):
    password = people("short.contract")
    people.conn.execute("UPDATE register.account SET expires_at = now() - interval '1 minute' "
                        "WHERE login = 'short.contract'")
    r = get(live_server, "short.contract", password)
    assert r.status_code == 401 and "expiré" in r.json()["description"]


def _eventually_refused(url, login, password, seconds=2.0):
    """Every worker must drop its cached credential within `seconds` (LISTEN/NOTIFY).

    Polls until the first refusal (the change has reached a worker), then
    checks that every following request, whichever worker takes it, is refused.
    A wrong password from the user's usual address counts against his login there
    (migration 0730): the sixth in a row may meet that lock (429), a refusal too.
    Returns the first refusal of the run.
    """
    deadline = time.monotonic() + seconds
    responses = []
    while len(responses) < 6:   # six refusals in a row: every worker has dropped it
        response = get(url, login, password)
        responses = responses + [response] if response.status_code in (401, 429) else []
        assert responses or time.monotonic() < deadline, "a cached credential outlived the change"
        if not responses:
            time.sleep(0.02)
    return responses[0]


def test_departure_takes_effect_at_once_despite_the_cache(people, live_server):
    password = people("leaving.agent")
    for _ in range(6):   # both workers verify, then cache, the credential
        assert get(live_server, "leaving.agent", password).status_code == 200
    register.disable_user(people.conn, "leaving.agent", "départ de l'agent")
    refused = _eventually_refused(live_server, "leaving.agent", password)
    assert "départ de l'agent" in refused.json()["description"]
    assert "Seul l'administrateur" in refused.json()["description"]


def test_password_reset_drops_the_old_password_at_once(people, live_server):
    old = people("forgetful.agent")
    for _ in range(6):
        assert get(live_server, "forgetful.agent", old).status_code == 200
    new = register.reset_password(people.conn, "forgetful.agent")
    refused = _eventually_refused(live_server, "forgetful.agent", old)
    assert_generic_401(refused)
    # Six wrong passwords in a row from his usual address hold his login there for a
    # while (0730): the lock, not the new password, is what a 429 would show here.
    people.conn.execute("DELETE FROM register.login_throttle WHERE key LIKE 'forgetful.agent%%'")
    assert get(live_server, "forgetful.agent", new).status_code == 200


def test_unknown_login_and_wrong_password_are_indistinguishable(people, live_server):
    password = people("careful.agent")
    answers = [get(live_server, "careful.agent", "wrong " + password),
               get(live_server, "no.such.agent", "wrong " + password),
               get(live_server, "not a login at all é", "x"),
               get(live_server, "disabled.agent.x", "x")]
    for r in answers:
        assert_generic_401(r)
    assert len({r.text for r in answers}) == 1
    assert len({r.headers["WWW-Authenticate"] for r in answers}) == 1
