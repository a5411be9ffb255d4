"""Requests from a chosen loopback address (127.0.0.0/8), so that tests can play several
clients: the per-address brute-force lockout, trusted proxies, the audit's addresses."""
from __future__ import annotations

from requests.adapters import HTTPAdapter


class SourceAddress(HTTPAdapter):
    """Mount on a session: ``session.mount("http://", SourceAddress("127.0.0.7"))``."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)
