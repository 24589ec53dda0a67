"""`resources/read` on the lean relay: the resource cache, and URIs both ways.

A read the relay takes (`fast_relay.py` plans it like a `prompts/get`: a server shared by all
clients, reached over a raw lane in the client's own era, no tracing) is answered as the SDK's
path (`ProxyServer._read_resource`) answers it:

- the exposed URI is routed (a listed resource, a template, a server's URI prefix) and the
  upstream's URI is what the server is asked for; the proxy's own status resource and a URI
  that routes nowhere stay on the SDK's path, whose answers they are;
- a fresh read (not a retry answering an input round) is answered from the one resource cache
  (`resource_cache.py`) when it holds an answer this client may see, in its wire form;
- otherwise the answer is checked as the SDK's client checks it (`checked_read`) and, when
  complete, kept in the cache under the same rules as the SDK's path (per client connection,
  `ttlMs` / `cacheScope` of a 2026-07-28 server, the configured TTL otherwise);
- the contents' URIs are shown in their exposed form (the one asked for is the client's own
  spelling), and the result is shaped for the client's protocol version.

Errors the server answers (an unknown resource: -32002 on the handshake era, -32602 with
`data.uri` on 2026-07-28) pass through as the server wrote them, as on the SDK's path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import mcp_types as types
from mcp.client.session import (
    _clamp_inbound_ttl,  # pyright: ignore[reportPrivateUsage]
    _later_revision_fields,  # pyright: ignore[reportPrivateUsage]
)
from mcp_types import methods as _methods
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from ..catalog.merged import Route
from ..catalog.naming import expose_uri
from ..core.observe import Outcome
from ..registry import Registry
from ..upstream.lane import Message
from ..upstream.supervisor import Upstream
from .fast_call import Ending, FastCall, FrontClient
from .server import ProxyServer, shares_reads
from .status_resource import STATUS_URI

READ = "resources/read"

Run = Callable[[], Awaitable[None]]


class Relay(Protocol):
    """What reads need of the lean relay (`fast_relay.FastRelay`)."""

    proxy: ProxyServer
    registry: Registry

    def lane_serves(self, upstream: Upstream, modern: bool) -> bool: ...

    @property
    def forward(self) -> Callable[[str, str, Any, Message, Route, Upstream, FastCall], Awaitable[None]]:
        """Send a planned request on the upstream's raw lane and answer the client."""
        ...

    def shaped(self, method: str, version: str, dumped: Message, *, sieve: bool = True) -> Message: ...

    def report(self, method: str, params: Message, route: Route, call: FastCall, ending: Ending) -> None: ...


def checked_read(raw: Message, version: str | None) -> Message:
    """A server's `resources/read` result checked and trimmed as the SDK's client does for `version`.

    Raises what the SDK's client raises for a result that does not fit the version.
    """
    _clamp_inbound_ttl(raw)
    version = version or LATEST_HANDSHAKE_VERSION
    _methods.validate_server_result(READ, version, raw)
    if not (foreign := _later_revision_fields(READ, version)).isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    return raw


def without_server_info(result: Message) -> Message:
    """A server's result without its identity stamp (the proxy stamps its own for 2026-07-28 clients)."""
    meta = result.get("_meta")
    if not isinstance(meta, dict) or types.SERVER_INFO_META_KEY not in meta:
        return result
    kept = {k: v for k, v in cast("Message", meta).items() if k != types.SERVER_INFO_META_KEY}
    return {**result, "_meta": kept} if kept else {k: v for k, v in result.items() if k != "_meta"}


def _cache_client(client: FrontClient) -> int | None:
    """The connection a private answer may be kept for (none for a 2026-07-28 client, as on the SDK's path)."""
    return client.connection_key if client.session is not None else None


class RelayedReads:
    """The relay's `resources/read`: planned, answered from the cache or forwarded, and remembered."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self._cache = relay.proxy.cache

    def plan(self, version: str, request_id: Any, params: Message, client: FrontClient, *, modern: bool) -> Run | None:
        """How to answer this read on the relay; None leaves it to the SDK's path."""
        uri = params.get("uri")
        if not isinstance(uri, str) or uri == STATUS_URI:
            return None
        route = self._relay.registry.catalog.route_resource(uri)
        if route is None:
            return None  # the SDK's path names the unknown resource
        upstream = self._relay.registry.upstreams.get(route.server)
        if upstream is None or not self._relay.lane_serves(upstream, modern):
            return None
        call = FastCall(client, route.server, request_id, params.get("_meta"), modern=modern)
        # A retry answering an input round continues its request: never answered from the cache.
        fresh = params.get("inputResponses") is None and params.get("requestState") is None

        async def read() -> None:
            started = time.perf_counter()
            cached = self._cache.get_wire(route.server, route.original, _cache_client(client)) if fresh else None
            if cached is None:
                await self._relay.forward(READ, version, request_id, params, route, upstream, call)
                return
            wire, wire_version = cached
            result = self.client_form(wire, wire_version, version, route, upstream, uri, modern=modern)
            client.send({"jsonrpc": "2.0", "id": request_id, "result": result})
            seconds = time.perf_counter() - started
            asyncio.get_running_loop().call_soon(
                self._relay.report, READ, params, route, call, Ending("ok", seconds, 0)
            )

        return read

    def answered(
        self,
        version: str,
        answered: tuple[Message, str | None],
        route: Route,
        upstream: Upstream,
        call: FastCall,
        uri: str,
    ) -> tuple[Message, int, Outcome]:
        """The server's checked result as the client receives it (kept in the cache when complete)."""
        result, upstream_version = answered
        result = without_server_info(result)  # the server's identity is not the proxy's, nor kept
        if result.get("resultType", "complete") == "complete":
            client = _cache_client(call.client)
            modern = upstream.speaks_modern_to(call.is_modern)
            self._cache.put_wire(
                upstream.name,
                route.original,
                client,
                result,
                upstream_version,
                modern=modern,
                shared=shares_reads(upstream),
            )
            if client is not None:
                self._relay.proxy.forget_reads_on_close(client, call.on_connection_closed)
        return self.client_form(result, upstream_version, version, route, upstream, uri, modern=call.is_modern), 0, "ok"

    def client_form(
        self,
        result: Message,
        result_version: str | None,
        version: str,
        route: Route,
        upstream: Upstream,
        uri: str,
        *,
        modern: bool,
    ) -> Message:
        """`result` (never changed) as the client asking for `uri` in protocol `version` receives it."""
        prefix = upstream.config.exposed_prefix
        if prefix and isinstance(contents := result.get("contents"), list):
            # Clients match contents to what they asked for: show URIs in their exposed form.
            exposed = [_exposed(item, prefix, route.original, uri) for item in cast("list[Any]", contents)]
            result = {**result, "contents": exposed}
        if result_version != version or modern:
            result = self._relay.shaped(READ, version, dict(result), sieve=result_version != version)
        return result


def _exposed(item: Any, prefix: str, original: str, asked: str) -> Any:
    if not isinstance(item, dict):
        return item
    content = cast("Message", item)
    uri = content.get("uri")
    if not isinstance(uri, str):
        return content
    return {**content, "uri": asked if uri == original else expose_uri(prefix, uri)}
