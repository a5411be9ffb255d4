"""The connection pools of the web service and the workers, and what "database unavailable" is.

One pool per role and process (``service``: published views, read replica if
configured; ``gate``: the account register; ``jobs``: the job queue), created
on first use (after gunicorn has forked) and kept for the life of the process.
pygeoapi builds a provider object for each request: opening a connection in its
``__init__`` would cost a connection per request.

``DATABASE_UNAVAILABLE`` is the one definition of "the database cannot do this
now"; ``is_unavailable`` tests an exception against it. The app answers it with
a 503 (``portail.app``), workers wait and retry (``processes.jobs.worker``).
The command-line tools connect with ``portail.db`` instead.
"""
from __future__ import annotations

import atexit
import threading
import time

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from portail.settings import get_settings

# What "the database cannot do this now" looks like: down, restarting, every connection
# busy, or read-only (a standby, default_transaction_read_only during maintenance).
# Callers wait and retry (workers) or answer 503 (the app); never a 500 or a crash.
DATABASE_UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction,
                        PoolTimeout)
# The French message a user reads (503 of the app, failed export, sheet).
UNAVAILABLE_MESSAGE = "base de données momentanément indisponible"


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot answer now (down, full pool, read-only)."""
    return isinstance(exc, DATABASE_UNAVAILABLE)


RECONNECT_SECONDS = 2.0
FAST_FAIL_SECONDS = 0.5


class PortalPool(ConnectionPool):
    """A pool that answers fast while its database is known to be down.

    gunicorn's sync workers serve one request at a time: if each request of an
    outage waited the full pool timeout, the requests queued behind it would wait
    several times that. After a timeout, and until a connection is handed out
    again, a request waits ``FAST_FAIL_SECONDS`` only (long enough for a connection
    the pool is opening right now), then gets its 503.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failing_since: float | None = None

    def getconn(self, timeout: float | None = None):
        if timeout is None:
            timeout = self.timeout
        if self.failing_since is not None:
            timeout = min(timeout, FAST_FAIL_SECONDS)
        try:
            conn = super().getconn(timeout=timeout)
        except PoolTimeout:
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            raise
        self.failing_since = None
        return conn

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()


def service_pool() -> ConnectionPool:
    """The pool of the service role, which reads the diffusion schema only.

    It connects to the read replica when ``READ_DATABASE_URL`` is set
    (``Settings.service_read_dsn``): the published views are read-only for the
    portal, so a hot standby serves them as well as the primary.
    """
    settings = get_settings()
    return _pool("service", settings.service_read_dsn, settings.pool_min, settings.pool_max)


def gate_pool() -> ConnectionPool:
    """The pool of the gate role, which reads the account register only.

    Always the primary: a login writes (failures, last login, audit log).
    """
    settings = get_settings()
    return _pool("gate", settings.gate_dsn, 1, 2)


def jobs_pool() -> ConnectionPool:
    """The pool of the job queue (``jobs`` schema, on the primary), as the gate role.

    Separate from ``gate_pool`` so that serving a job result never makes a
    login wait for a connection."""
    settings = get_settings()
    return _pool("jobs", settings.gate_dsn, 1, 4)


def _pool(name: str, dsn_factory, min_size: int, max_size: int) -> ConnectionPool:
    pool = _pools.get(name)
    if pool is not None:
        return pool
    with _lock:
        if name not in _pools:
            _pools[name] = PortalPool(
                dsn_factory(), min_size=min_size, max_size=max_size, open=True,
                name=f"portail-{name}", kwargs={"autocommit": True},
                # A connection broken by a database restart is replaced, not handed out.
                check=ConnectionPool.check_connection,
                # A request waits at most this long for a connection, then gets a 503.
                timeout=get_settings().pool_timeout,
                # psycopg_pool retries a lost connection with a doubling delay until
                # reconnect_timeout: a short one keeps the delay short (1 s, then 2 s),
                # after which the next request that finds the pool empty grows it again.
                # The portal is back within seconds of the database, whatever the outage.
                reconnect_timeout=RECONNECT_SECONDS)
        return _pools[name]


def open_pools() -> dict[str, ConnectionPool]:
    """The pools already opened in this process, by name (for metrics and readiness)."""
    return dict(_pools)


@atexit.register
def _close_pools() -> None:
    for pool in _pools.values():
        pool.close()
