"""Per-process caches keyed by the data version.

Published data change only when a millésime is published, which bumps
``diffusion.data_version``. Counts (the exact ``numberMatched``), pages of
features and the list of loaded millésimes are therefore cached per (query,
data version): a new publication makes every old entry unreachable, and the
LRU bound lets them age out. The caches hold published rows only (what the
service role may read), never a credential.
"""
from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    """A small thread-safe LRU bounded by entry count and by approximate weight."""

    def __init__(self, max_entries: int, max_weight: int | None = None):
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._data: OrderedDict = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key):
        with self._lock:
            try:
                value, weight = self._data.pop(key)
            except KeyError:
                self.misses += 1
                return None
            self._data[key] = (value, weight)
            self.hits += 1
            return value

    def put(self, key, value, weight: int = 1) -> None:
        if self.max_weight is not None and weight > self.max_weight // 4:
            return  # one huge page would evict everything: not worth keeping
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._data[key] = (value, weight)
            self._weight += weight
            while len(self._data) > self.max_entries or (
                    self.max_weight is not None and self._weight > self.max_weight):
                _, (_, w) = self._data.popitem(last=False)
                self._weight -= w

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._data)


COUNTS = LRU(4096)
PAGES = LRU(512, max_weight=64 * 1024 * 1024)
MILLESIMES = LRU(256)
