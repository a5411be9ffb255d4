"""Recently verified credentials, in the memory of one worker process.

argon2id costs tens of milliseconds by design: paying it on every request
would halve the throughput. A verified (login, password) pair is remembered
under ``HMAC-SHA256(k, "Basic base64(login:password)")``, where ``k`` is a
random key drawn by this process: the password is never kept, and the key of an entry is
useless outside this process. Entries are bounded in number (LRU) and in life
(``TTL_SECONDS``, and never past the moment a rule of the convention would
refuse the account: end of assignment, expiry, password anniversary).

Invalidation costs nothing per request: each worker keeps one connection that
LISTENs on the ``portail_register`` channel; a trigger on the register
notifies the login whose password, state, expiry, organisation or role
changed ('*' for an organisation change), and the listener drops its entries
within milliseconds. A brute-force lock is announced the same way: while a
login or an address is locked, a cached credential for it is not enough (the
request takes the full path, where the lock applies), so that a right guess
cannot slip through the cache during a lock. While the listener is not connected, nothing is cached
and nothing cached is used. A generation counter closes the race between a
verification that read the register just before a change and the
notification of that change.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import psycopg
from psycopg import sql

LOGGER = logging.getLogger(__name__)

CHANNEL = "portail_register"
TTL_SECONDS = 300.0
MAX_ENTRIES = 2048


@dataclass(frozen=True)
class Entry:
    login: str
    expires: float   # time.monotonic() deadline
    account: object  # what the gate hands to the request (auth.accounts.Account)


class CredentialCache:
    """A bounded, time-limited, per-process map from a keyed hash to a verified account."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic):
        self._key = secrets.token_bytes(32)
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], float] = {}   # (scope, key) -> monotonic end
        self.generation = 0      # bumped by every invalidation
        self.enabled = True      # False while invalidations could be missed

    def key(self, credentials: str) -> bytes:
        """Keyed hash (HMAC, per-process key) of the login and password pair."""
        return hmac.new(self._key, credentials.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()

    def get(self, key: bytes) -> object | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry.account

    def put(self, key: bytes, login: str, account: object, generation: int,
            lifetime: float | None = None) -> bool:
        """Remember a verification made when ``generation`` was current; False if stale."""
        lifetime = self._ttl if lifetime is None else min(self._ttl, lifetime)
        with self._lock:
            if not self.enabled or generation != self.generation or lifetime <= 0:
                return False
            self._entries[key] = Entry(login, self._clock() + lifetime, account)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return True

    def lock(self, scope: str, key: str, seconds: float) -> None:
        """A brute-force lock began: cached credentials of this login/address are not enough."""
        with self._lock:
            now = self._clock()
            self._locks = {k: t for k, t in self._locks.items() if t > now}
            self._locks[(scope, key)] = now + seconds

    def is_locked(self, login: str, address: str) -> bool:
        if not self._locks:
            return False
        now = self._clock()
        return (self._locks.get(("login", login[:128]), 0) > now
                or self._locks.get(("address", address), 0) > now
                or self._locks.get(("pair", f"{login[:128]} {address}"), 0) > now)

    def drop_login(self, login: str) -> None:
        with self._lock:
            self.generation += 1
            for key in [k for k, e in self._entries.items() if e.login == login]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class RegisterListener:
    """A daemon thread that LISTENs for register changes and invalidates the cache."""

    def __init__(self, cache: CredentialCache, dsn_factory: Callable[[], str]):
        self._cache = cache
        self._dsn_factory = dsn_factory
        self._pid = None
        self._thread = None
        self._stop = threading.Event()
        self._connected = threading.Event()

    def ensure_running(self) -> None:
        """Start the thread in this process (after gunicorn's fork) if it is not running."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._cache.enabled = False
        self._cache.clear()
        self._connected.clear()
        self._thread = threading.Thread(target=self._run, name="register-listener", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def handle(self, payload: str) -> None:
        """'*': drop everything; 'lock SCOPE SECONDS KEY': a lock began; else a login changed."""
        if payload == "*":
            self._cache.clear()
        elif payload.startswith("lock "):
            _, scope, seconds, key = payload.split(" ", 3)
            self._cache.lock(scope, key, float(seconds))
        else:
            self._cache.drop_login(payload)

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn_factory(), autocommit=True,
                                     connect_timeout=10) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    # Anything may have changed while we were not listening.
                    self._cache.clear()
                    self._cache.enabled = True
                    self._connected.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=5.0):
                            self.handle(note.payload)
                        conn.execute("SELECT 1")  # notices a dead connection
            except Exception as exc:  # noqa: BLE001 - any failure: stop caching, retry
                LOGGER.warning("credential cache disabled: register listener down (%s)",
                               type(exc).__name__)
            self._cache.enabled = False
            self._cache.clear()
            self._connected.clear()
            self._stop.wait(1.0)
