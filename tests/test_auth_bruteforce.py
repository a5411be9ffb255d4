"""Brute force: temporary, growing locks per login and per address, logged; never a
permanent lock-out of a user by an attacker; no account enumeration through them.

Each test talks from its own loopback addresses (the whole 127.0.0.0/8 reaches
the server), so that the addresses' counters are its own.
"""
from __future__ import annotations

from datetime import date

import psycopg
import pytest
import requests

from auth import register
from source_address import SourceAddress

ORG = "Ville de Croix (tests force brute)"



def get(url, address, login, password):
    with requests.Session() as session:
        session.mount("http://", SourceAddress(address))
        return session.get(f"{url}/collections", params={"f": "json"},
                           auth=(login, password), timeout=30)


@pytest.fixture(scope="module")
def victim(settings, live_server):
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        register.add_organisation(conn, ORG, "commune", date(2024, 2, 2), "DEL-2024-2")
        password = register.add_user(conn, "victim.user", full_name="Victim User",
                                     email="victim.user@ville-croix.fr", organisation_name=ORG)
        yield "victim.user", password
        conn.execute("DELETE FROM register.account WHERE login = 'victim.user'")
        conn.execute("DELETE FROM register.organisation WHERE name = %s", [ORG])


@pytest.fixture(scope="module")
def colleague(settings, victim):
    """A second account of the same organisation, working from the same office."""
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        password = register.add_user(conn, "colleague.user", full_name="Colleague User",
                                     email="colleague.user@ville-croix.fr",
                                     organisation_name=ORG)
        yield "colleague.user", password
        conn.execute("DELETE FROM register.account WHERE login = 'colleague.user'")


@pytest.fixture(autouse=True)
def _clean(owner_conn):
    yield
    owner_conn.execute("DELETE FROM register.login_throttle WHERE key LIKE '127.0.0.%%' "
                       "OR key LIKE '%% 127.0.0.%%' "
                       "OR key IN ('victim.user', 'ghost.user', 'colleague.user')")
    owner_conn.execute("DELETE FROM register.known_address "
                       "WHERE login IN ('victim.user', 'colleague.user')")


def test_login_lock_grows_is_temporary_and_spares_the_usual_address(live_server, victim,
                                                                      owner_conn, settings):
    login, password = victim
    home, attacker, elsewhere = "127.0.0.31", "127.0.0.32", "127.0.0.33"
    assert get(live_server, home, login, password).status_code == 200   # the usual place

    for _ in range(4):
        assert get(live_server, attacker, login, "guess " + password).status_code == 401
    fifth = get(live_server, attacker, login, "guess " + password)
    assert fifth.status_code == 401   # this failure sets the lock
    locked = get(live_server, attacker, login, password)   # even the right password
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    assert "Trop de tentatives" in locked.json()["description"]
    # A new address is refused too while the login is locked …
    assert get(live_server, elsewhere, login, password).status_code == 429
    # … but not the address the user works from: the attacker cannot lock him out.
    assert get(live_server, home, login, password).status_code == 200

    # The lock is temporary: once it has passed, one more failure doubles it.
    first = owner_conn.execute("SELECT locked_until - last_failure_at FROM register.login_throttle"
                               " WHERE scope = 'login' AND key = %s", [login]).fetchone()[0]
    assert first.total_seconds() == pytest.approx(30, abs=1)
    owner_conn.execute("UPDATE register.login_throttle SET locked_until = now() "
                       "WHERE scope = 'login' AND key = %s", [login])
    assert get(live_server, elsewhere, login, "guess again").status_code == 401
    second = owner_conn.execute("SELECT locked_until - last_failure_at FROM register.login_throttle"
                                " WHERE scope = 'login' AND key = %s", [login]).fetchone()[0]
    assert second.total_seconds() == pytest.approx(60, abs=1)
    # Capped, and forgotten after an hour without failure.
    owner_conn.execute("UPDATE register.login_throttle SET locked_until = now() - interval '1 min',"
                       " last_failure_at = now() - interval '61 min' WHERE key = %s", [login])
    assert get(live_server, elsewhere, login, password).status_code == 200

    log = settings.server_logfile.read_text(errors="replace")
    assert "brute force: lock until" in log and "login=victim.user" in log
    assert password not in log and "guess" not in log


def test_locks_do_not_reveal_whether_a_login_exists(live_server, victim):
    login, _ = victim
    attacker = "127.0.0.41"
    for _ in range(5):
        get(live_server, attacker, login, "nope nope nope")
        get(live_server, attacker, "ghost.user", "nope nope nope")
    real = get(live_server, attacker, login, "nope nope nope")
    ghost = get(live_server, attacker, "ghost.user", "nope nope nope")
    assert real.status_code == ghost.status_code == 429
    assert real.json() == ghost.json()


def test_address_lock_after_many_failures_on_any_login(live_server, victim):
    login, password = victim
    attacker, neighbour = "127.0.0.51", "127.0.0.52"
    answers = [get(live_server, attacker, f"user{i}", "spray password").status_code
               for i in range(20)]
    assert answers == [401] * 20
    blocked = get(live_server, attacker, login, password)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert get(live_server, neighbour, login, password).status_code == 200


def test_no_credentials_is_not_a_failure(live_server, victim, owner_conn):
    for _ in range(30):
        with requests.Session() as session:
            session.mount("http://", SourceAddress("127.0.0.61"))
            assert session.get(f"{live_server}/collections").status_code == 401
    assert owner_conn.execute("SELECT count(*) FROM register.login_throttle WHERE key = "
                              "'127.0.0.61'").fetchone()[0] == 0


# -- shared addresses: one office, one public address, several accounts ------------------
def test_failures_of_a_known_pair_count_against_that_login_only(live_server, victim, colleague,
                                                                 owner_conn):
    (login, password), (other, other_password) = victim, colleague
    office, home, elsewhere = "127.0.0.71", "127.0.0.72", "127.0.0.73"
    assert get(live_server, office, login, password).status_code == 200
    assert get(live_server, office, other, other_password).status_code == 200
    assert get(live_server, home, login, password).status_code == 200

    # The user mistypes at the office, again and again: his own login is held there …
    answers = [get(live_server, office, login, "old " + password).status_code for _ in range(5)]
    assert answers == [401] * 5
    held = get(live_server, office, login, password)
    assert held.status_code == 429 and "Trop de tentatives" in held.json()["description"]
    # … and from an address where he never logged in (the login's own counter) …
    assert get(live_server, elsewhere, login, password).status_code == 429
    # … but not from his other usual place, and his colleague at the office works on.
    assert get(live_server, home, login, password).status_code == 200
    assert get(live_server, office, other, other_password).status_code == 200
    # Nothing was counted against the office's address.
    assert owner_conn.execute("SELECT count(*) FROM register.login_throttle "
                              "WHERE scope = 'address' AND key = %s", [office]).fetchone()[0] == 0


def test_address_lock_holds_unknown_logins_and_lets_known_pairs_through(live_server, victim,
                                                                         colleague):
    (login, password), (other, other_password) = victim, colleague
    office = "127.0.0.81"
    assert get(live_server, office, login, password).status_code == 200
    # Someone at the office sprays logins that never worked there: the address locks.
    answers = [get(live_server, office, f"sprayed{i}", "spray password").status_code
               for i in range(20)]
    assert answers == [401] * 20
    assert get(live_server, office, "sprayed99", "spray password").status_code == 429
    # A login unknown at this address is held, even with its right password …
    assert get(live_server, office, other, other_password).status_code == 429
    # … a known pair passes with its right password, and its mistakes stay its own (401).
    assert get(live_server, office, login, password).status_code == 200
    assert get(live_server, office, login, "wrong " + password).status_code == 401
    assert get(live_server, office, login, password).status_code == 200


def test_a_colleague_cannot_guess_without_limit_from_the_shared_address(live_server, victim,
                                                                         colleague):
    (login, password), (other, other_password) = victim, colleague
    office = "127.0.0.91"
    assert get(live_server, office, login, password).status_code == 200
    assert get(live_server, office, other, other_password).status_code == 200
    # The colleague guesses the victim's password from the office: 5 tries, then a lock,
    # the same answer for the right password (no oracle), his own account untouched.
    answers = [get(live_server, office, login, f"guess {i}").status_code for i in range(5)]
    assert answers == [401] * 5
    assert get(live_server, office, login, password).status_code == 429
    assert get(live_server, office, other, other_password).status_code == 200
