"""The service-role connection to the published views and the data version."""
from __future__ import annotations

from contextlib import contextmanager

from diffusion.errors import Unavailable
from portail.pools import UNAVAILABLE_MESSAGE, is_unavailable, service_pool


@contextmanager
def connection():
    """A pooled connection of the service role (read replica if configured).

    An outage (database down, no connection free in time) is raised as
    ``Unavailable``; every other error goes through untouched.
    """
    try:
        with service_pool().connection() as conn:
            yield conn
    except Exception as exc:
        if is_unavailable(exc) and not isinstance(exc, Unavailable):
            raise Unavailable(UNAVAILABLE_MESSAGE) from None
        raise


def data_version(conn) -> int:
    """The version of the publication served: it changes at each publication."""
    return conn.execute("SELECT data_version FROM diffusion.data_version").fetchone()[0]
