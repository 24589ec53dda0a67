"""A bounded cache of resource reads, keyed by server, upstream URI and who may see the answer.

How long an answer may be kept follows the upstream: a modern-era server states it on every
result (`ttlMs`, `cacheScope`), and a `0` means "do not keep". A handshake-era server says
nothing, so its answers are kept for the configured TTL. A `private` answer is only ever
served again to the client connection it was read for; a request that has no connection of its
own (a 2026-07-28 client's) has its `private` answers not kept at all. Entries are dropped when
the server says the resource changed, when its resource list changes, and when the server
reconnects.

There is one cache for both of the front's paths. The SDK's path keeps and gets results as
models (`put`, `get`); the lean relay keeps and gets them in their wire form (`put_wire`,
`get_wire`), with the protocol version they are shaped for. An entry holds whichever form it
was given and makes the other the first time it is asked for it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import mcp_types as types
import orjson

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


Wire = dict[str, Any]
"""A `resources/read` result as JSON (what `orjson.loads` gives)."""


@dataclass
class _Entry:
    size: int
    expires_at: float
    result: types.ReadResourceResult | None = None
    wire: Wire | None = None
    wire_version: str | None = None
    """The protocol version `wire` is shaped for; None for the dump of `result` (every version's fields)."""

    def model(self) -> types.ReadResourceResult:
        if self.result is None:
            self.result = types.ReadResourceResult.model_validate(self.wire, by_name=False)
        return self.result

    def wired(self) -> tuple[Wire, str | None]:
        if self.wire is None:
            self.wire = self.model().model_dump(by_alias=True, mode="json", exclude_none=True)
        return self.wire, self.wire_version


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
        """A fresh cached answer this client may see (a copy of its own), or None (counted as a miss).

        `client` is the client connection asking, or None for a request with no connection of
        its own (it sees public answers only).
        """
        entry = self._fresh(server, uri, client)
        return entry.model().model_copy(deep=True) if entry is not None else None

    def get_wire(self, server: str, uri: str, client: object) -> tuple[Wire, str | None] | None:
        """`get` in wire form, with the protocol version it is shaped for (None: every version's fields).

        The JSON is the cache's own: a caller builds its answer beside it, never in it.
        """
        entry = self._fresh(server, uri, client)
        return entry.wired() if entry is not None else None

    def _fresh(self, server: str, uri: str, client: object) -> _Entry | None:
        if not self.enabled:
            return None
        now = self._clock()
        keys = (CacheKey(server, uri, client), CacheKey(server, uri, PUBLIC)) if client is not None else ()
        for key in keys or (CacheKey(server, uri, PUBLIC),):
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry.expires_at <= now:
                self._drop(key)
                continue
            self._entries.move_to_end(key)
            self.hits += 1
            return entry
        self.misses += 1
        return None

    def put(
        self, server: str, uri: str, client: object, result: types.ReadResourceResult, *, modern: bool, shared: bool
    ) -> None:
        """Keep `result` if the server allows it.

        `client` is the client connection it was read for (None: a request with no connection
        of its own); `modern` says the server speaks the 2026-07-28 era (its hints are
        authoritative); `shared` says the read went over a session every client shares.
        """
        if not self.enabled:
            return
        hints = (result.ttl_ms, result.cache_scope) if modern else None
        scope, ttl = self._keeping(client, hints, shared)
        if scope is None:
            return
        size = len(result.model_dump_json(by_alias=True, exclude_none=True))
        self._keep(CacheKey(server, uri, scope), _Entry(size, self._clock() + ttl, result=result.model_copy(deep=True)))

    def put_wire(
        self, server: str, uri: str, client: object, wire: Wire, version: str | None, *, modern: bool, shared: bool
    ) -> None:
        """`put` for a result in wire form, shaped for protocol `version`; the cache keeps `wire` as it is."""
        if not self.enabled:
            return
        # Read as the SDK's model reads them: a 2026-07-28 result states both (they are required).
        ttl_ms = wire.get("ttlMs", 0)
        hints = (
            (cast(int, ttl_ms) if isinstance(ttl_ms, int | float) else 0, wire.get("cacheScope")) if modern else None
        )
        scope, ttl = self._keeping(client, hints, shared)
        if scope is None:
            return
        entry = _Entry(len(orjson.dumps(wire)), self._clock() + ttl, wire=wire, wire_version=version)
        self._keep(CacheKey(server, uri, scope), entry)

    def _keeping(self, client: object, hints: tuple[float, object] | None, shared: bool) -> tuple[object, float]:
        """Who may see an answer (None: nobody, it is not kept) and for how long."""
        if hints is not None:
            ttl_ms, cache_scope = hints
            ttl = min(self.ttl, ttl_ms / 1000)
            private = cache_scope != PUBLIC
        else:
            ttl = self.ttl
            private = not shared
        scope = client if private else PUBLIC
        return (scope if ttl > 0 else None), ttl

    def _keep(self, key: CacheKey, entry: _Entry) -> None:
        if entry.size > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.size
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
