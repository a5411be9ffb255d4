"""One connection pool per process, shared by every provider object.

pygeoapi builds a provider object for each request; opening a connection in
its ``__init__`` would cost a connection per request. The pool is created on
first use (after gunicorn has forked) and kept for the life of the process.
"""
from __future__ import annotations

import atexit
import threading

from psycopg_pool import ConnectionPool

from portail.settings import get_settings

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


def _pool(name: str, dsn_factory, min_size: int, max_size: int) -> ConnectionPool:
    pool = _pools.get(name)
    if pool is not None:
        return pool
    with _lock:
        if name not in _pools:
            _pools[name] = ConnectionPool(
                dsn_factory(), min_size=min_size, max_size=max_size, open=True,
                name=f"portail-{name}", kwargs={"autocommit": True},
                # A connection broken by a database restart is replaced, not handed out.
                check=ConnectionPool.check_connection, timeout=10)
        return _pools[name]


def open_pools() -> dict[str, ConnectionPool]:
    """The pools already opened in this process, by name (for metrics and readiness)."""
    return dict(_pools)


@atexit.register
def _close_pools() -> None:
    for pool in _pools.values():
        pool.close()
