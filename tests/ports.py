"""Free ports for the test session's servers and clusters.

Each test file asks for a port near a base of its own (18500 for the session's
server, 55400 for its cluster…). Two test sessions on one machine (a developer's
run beside a helper's) would probe the same bases at the same moment and collide;
``PORTAIL_TEST_PORT_SHIFT`` (0 by default, as in CI) moves every base of a session.
"""
from __future__ import annotations

import os

from portail.cluster import free_port as _free_port

SHIFT = int(os.environ.get("PORTAIL_TEST_PORT_SHIFT", "0") or 0)


def free_port(base: int) -> int:
    return _free_port(base + SHIFT)
