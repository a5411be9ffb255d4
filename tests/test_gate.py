"""The login gate: 401 with a Basic challenge unless a valid account is given."""
from __future__ import annotations

import time

import requests


PROTECTED = ["/collections", "/collections/communes", "/collections/communes/items",
             "/collections/communes/items/59350", "/conformance", "/openapi",
             "/collections/communes/queryables", "/processes", "/jobs"]


def test_protected_routes_challenge_without_credentials(live_server):
    for path in PROTECTED:
        r = requests.get(f"{live_server}{path}", params={"f": "json"})
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="'), path
        assert "features" not in r.text


def test_options_needs_an_account_too(live_server, account):
    # flask-httpauth lets OPTIONS through by default; pygeoapi's items routes answer it
    # themselves (collection names, provider work): the gate must hold it too.
    for path in ("/collections/communes/items", "/collections/no_such_thing/items",
                 "/collections/communes/items/59350"):
        r = requests.options(f"{live_server}{path}")
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="'), path
    assert requests.options(f"{live_server}/collections/communes/items",
                            auth=account).status_code == 200


def test_wrong_password_and_unknown_login_get_the_same_answer(live_server, account):
    login, _ = account
    wrong = requests.get(f"{live_server}/collections", auth=(login, "wrong password!"))
    unknown = requests.get(f"{live_server}/collections", auth=("nobody.here", "wrong password!"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text == unknown.text
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


def test_valid_account_gets_data_not_cached_by_proxies(http, live_server):
    r = http.get(f"{live_server}/collections/communes/items", params={"f": "json", "limit": 1})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "private, no-store"


def test_public_routes_need_no_account(live_server):
    assert requests.get(f"{live_server}/", params={"f": "json"}).status_code == 200
    health = requests.get(f"{live_server}/health")
    assert health.status_code == 200 and health.json()["database"] == "ok"


def test_disabled_account_is_refused(live_server, settings, owner_conn):
    from auth.accounts import set_account
    set_account(settings.owner_dsn(), "parti.depuis", "a long enough password")
    assert requests.get(f"{live_server}/collections",
                        auth=("parti.depuis", "a long enough password")).status_code == 200
    owner_conn.execute("UPDATE register.account SET disabled_at = now() WHERE login = %s",
                       ["parti.depuis"])
    # Every worker drops its cached credential on the register's notification: within
    # a second, and then for good.
    deadline, refused_in_a_row = time.monotonic() + 2.0, 0
    while refused_in_a_row < 6:
        status = requests.get(f"{live_server}/collections",
                              auth=("parti.depuis", "a long enough password")).status_code
        refused_in_a_row = refused_in_a_row + 1 if status == 401 else 0
        assert refused_in_a_row or time.monotonic() < deadline, "cached credential outlived the change"


def test_password_is_stored_as_argon2id(owner_conn, account):
    stored = owner_conn.execute("SELECT password_hash FROM register.account WHERE login = %s",
                                [account[0]]).fetchone()[0]
    assert stored.startswith("$argon2id$") and account[1] not in stored
