"""The per-process credential cache: keyed hash, bounds, lifetime, invalidation."""
from __future__ import annotations

import base64
import time

import psycopg
from hypothesis import given, strategies as st

from auth.cache import CredentialCache, RegisterListener


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode("utf-8", "surrogatepass")).decode()


@given(login=st.text(min_size=1, max_size=40), password=st.text(max_size=60),
       other=st.text(max_size=60))
def test_key_depends_on_the_credentials_and_never_contains_the_password(login, password, other):
    cache = CredentialCache()
    key = cache.key(basic(login, password))
    assert len(key) == 32
    if len(password) >= 4:
        assert password.encode("utf-8", "surrogatepass") not in key
    if other != password:
        assert cache.key(basic(login, other)) != key
    # Another process (another random key) computes another key.
    assert CredentialCache().key(basic(login, password)) != key


def test_bounded_size_and_lifetime():
    clock = Clock()
    cache = CredentialCache(ttl=300, max_entries=3, clock=clock)
    keys = [cache.key(basic(f"user{i}", "pw")) for i in range(4)]
    for i, key in enumerate(keys):
        assert cache.put(key, f"user{i}", f"account{i}", cache.generation)
    assert len(cache) == 3 and cache.get(keys[0]) is None   # least recently used went first
    assert cache.get(keys[3]) == "account3"
    clock.now += 299
    assert cache.get(keys[3]) == "account3"
    clock.now += 2
    assert cache.get(keys[3]) is None
    # A rule's deadline (end of assignment, password anniversary) shortens the lifetime.
    k = cache.key(basic("tiers", "pw"))
    cache.put(k, "tiers", "t", cache.generation, lifetime=10)
    clock.now += 11
    assert cache.get(k) is None


def test_invalidation_and_the_race_it_closes():
    cache = CredentialCache()
    a, b = cache.key(basic("alice", "pw")), cache.key(basic("bob", "pw"))
    cache.put(a, "alice", "A", cache.generation)
    cache.put(b, "bob", "B", cache.generation)
    cache.drop_login("alice")
    assert cache.get(a) is None and cache.get(b) == "B"
    # A verification that read the register before a change must not be cached after it.
    generation = cache.generation
    cache.drop_login("bob")
    assert not cache.put(b, "bob", "B-stale", generation)
    assert cache.get(b) is None
    cache.enabled = False
    assert not cache.put(b, "bob", "B", cache.generation) and cache.get(b) is None


def test_locks_make_cached_credentials_insufficient():
    clock = Clock()
    cache = CredentialCache(clock=clock)
    listener = RegisterListener(cache, lambda: "")
    listener.handle("lock login 30 alice")
    listener.handle("lock address 60 10.0.0.9")
    assert cache.is_locked("alice", "10.0.0.1") and cache.is_locked("bob", "10.0.0.9")
    assert not cache.is_locked("bob", "10.0.0.1")
    clock.now += 31
    assert not cache.is_locked("alice", "10.0.0.1") and cache.is_locked("bob", "10.0.0.9")
    listener.handle("lock login 30 name with spaces")
    assert cache.is_locked("name with spaces", "x")


def test_listener_drops_entries_on_register_change(settings, owner_conn, account):
    cache = CredentialCache()
    listener = RegisterListener(cache, settings.gate_dsn)
    listener.ensure_running()
    try:
        assert listener.wait_connected(10)
        key = cache.key(basic(*account))
        assert cache.put(key, account[0], "acct", cache.generation)
        # The gate's own bookkeeping does not invalidate …
        owner_conn.execute("UPDATE register.account SET last_login_at = now() WHERE login = %s",
                           [account[0]])
        time.sleep(0.3)
        assert cache.get(key) == "acct"
        # … a change that can refuse the login does, within milliseconds.
        owner_conn.execute("UPDATE register.account SET expires_at = NULL WHERE login = %s",
                           [account[0]])
        deadline = time.monotonic() + 2
        while cache.get(key) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        listener.stop()


def test_listener_down_means_no_cache(settings):
    cache = CredentialCache()
    listener = RegisterListener(cache, lambda: "host=127.0.0.1 port=1 dbname=x connect_timeout=1")
    listener.ensure_running()
    time.sleep(0.3)
    assert not cache.enabled
    assert not cache.put(cache.key(basic("a", "b")), "a", "A", cache.generation)
    listener.stop()
