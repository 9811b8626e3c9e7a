"""The demo's caches: memory that rises while they fill, then stays flat.

``LRUCache`` holds computed contexts (their bars and indicators are made by the data and
analysis services, and counted there); ``HeldCache`` holds response payloads of its own
(``--hold-mb``), made here so a component breakdown shows them under the cache.

Bounded by entry count, which is what ``--cache-entries`` sets. An optional time to
live lets entries expire when idle, so memory can come back after a load test.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRUCache:
    def __init__(self, max_entries: int, ttl_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.hits = self.misses = self.evictions = self.expirations = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing and storing it on a miss."""
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and not self._expired(found[0], now):
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]
        self.misses += 1
        value = compute()
        if self.max_entries == 0:
            return value
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1
        return value

    def _expired(self, stored_at: float, now: float) -> bool:
        return self.ttl_s > 0 and now - stored_at > self.ttl_s

    def expire(self) -> int:
        """Drop entries older than the time to live; how many were dropped."""
        if self.ttl_s <= 0:
            return 0
        now = self._clock()
        stale = [key for key, (stored_at, _) in self._entries.items()
                 if self._expired(stored_at, now)]
        for key in stale:
            del self._entries[key]
        self.expirations += len(stale)
        return len(stale)

    def stats(self) -> dict[str, Any]:
        return {"entries": len(self._entries), "max_entries": self.max_entries,
                "ttl_s": self.ttl_s, "hits": self.hits, "misses": self.misses,
                "evictions": self.evictions, "expirations": self.expirations}


HELD_ENTRY_BYTES = 64 * 1024


class HeldCache:
    """A fixed number of 64 KB slots, each request replacing one: it fills to its size
    within the first requests and then stays there (held, not leaked)."""

    def __init__(self, size_mb: int) -> None:
        self.slots = size_mb * 1024 * 1024 // HELD_ENTRY_BYTES
        self._entries: dict[int, bytes] = {}

    def store(self, request_number: int) -> None:
        if self.slots:
            # bytes * n writes every byte, so the pages are really resident.
            self._entries[request_number % self.slots] = b"H" * HELD_ENTRY_BYTES

    @property
    def held_kb(self) -> int:
        return len(self._entries) * HELD_ENTRY_BYTES // 1024
