"""A bounded cache of resource reads, keyed by server, upstream URI and who may see the answer.

How long an answer may be kept follows the upstream: a modern-era server states it on every
result (`ttlMs`, `cacheScope`), and a `0` means "do not keep". A handshake-era server says
nothing, so its answers are kept for the configured TTL. A `private` answer is only ever
served again to the client connection it was read for. Entries are dropped when the server
says the resource changed, when its resource list changes, and when the server reconnects.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types

DEFAULT_TTL = 30.0
DEFAULT_MAX_ENTRIES = 1024
DEFAULT_MAX_BYTES = 32 * 1024 * 1024

PUBLIC = "public"


@dataclass(frozen=True)
class CacheKey:
    """Identifies one cached read: where it came from and who may see it."""

    server: str
    uri: str
    scope: object  # PUBLIC, or the client connection a private answer belongs to


@dataclass
class _Entry:
    result: types.ReadResourceResult
    size: int
    expires_at: float


class ResourceCache:
    """Bounded (entries and bytes) TTL cache of `resources/read` results."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """Whether anything is ever cached."""
        return self.ttl > 0 and self.max_entries > 0 and self.max_bytes > 0

    def get(self, server: str, uri: str, client: object) -> types.ReadResourceResult | None:
        """A fresh cached answer this client may see, or None (counted as a miss)."""
        if not self.enabled:
            return None
        now = self._clock()
        for key in (CacheKey(server, uri, client), CacheKey(server, uri, PUBLIC)):
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry.expires_at <= now:
                self._drop(key)
                continue
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.result.model_copy(deep=True)
        self.misses += 1
        return None

    def put(
        self, server: str, uri: str, client: object, result: types.ReadResourceResult, *, modern: bool, shared: bool
    ) -> None:
        """Keep `result` if the server allows it.

        `modern` says the server speaks the 2026-07-28 era (its hints are authoritative);
        `shared` says the read went over a session every client shares.
        """
        if not self.enabled:
            return
        if modern:
            ttl = min(self.ttl, result.ttl_ms / 1000)
            private = result.cache_scope != PUBLIC
        else:
            ttl = self.ttl
            private = not shared
        if ttl <= 0:
            return
        size = len(result.model_dump_json(by_alias=True, exclude_none=True))
        if size > self.max_bytes:
            return
        key = CacheKey(server, uri, client if private else PUBLIC)
        self._drop(key)
        self._entries[key] = _Entry(result.model_copy(deep=True), size, self._clock() + ttl)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def invalidate(self, server: str, uri: str | None = None) -> None:
        """Forget one resource of a server, or everything of that server."""
        for key in [k for k in self._entries if k.server == server and (uri is None or k.uri == uri)]:
            self._drop(key)

    def forget_client(self, client: object) -> None:
        """Forget the private answers of a client connection that went away."""
        for key in [k for k in self._entries if k.scope == client]:
            self._drop(key)

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def stats(self) -> dict[str, Any]:
        """Entries, bytes, hits, misses and hit rate, for status and metrics."""
        lookups = self.hits + self.misses
        return {
            "entries": len(self._entries),
            "bytes": self._bytes,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / lookups, 4) if lookups else None,
            "ttl_s": self.ttl,
            "max_entries": self.max_entries,
            "max_bytes": self.max_bytes,
        }
