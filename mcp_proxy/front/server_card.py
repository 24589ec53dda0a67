"""A server card for the aggregate (experimental): what the proxy is and where clients reach it, before connecting.

With `[proxy] server_card = true` the HTTP front serves, in the shape of the server-card draft
(SEP-2127):

- `GET /mcp/server-card`: the card. Its identity (name, version, title, description), its
  remotes (the streamable-HTTP and SSE URLs, each with the protocol versions the proxy speaks,
  and the `Authorization` header when the front requires a token), and in `_meta` the
  capabilities the proxy advertises now and, when the front is open, the names of the servers
  usable behind it. No tools: those stay the business of the lists.
- `GET /.well-known/ai-catalog.json`: a catalog with one entry, pointing at the card.

Both are public documents for discovery, as the protected-resource metadata is: they need no
token (a client reads them before it has one), any Origin may read them (CORS `*`, no
credentials), and only the Host header is checked (421), against DNS rebinding. With
authentication configured the card names no server behind the proxy. Each answer carries a
strong ETag (a digest of its body): `If-None-Match` with it gets a 304.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_types.version import LATEST_MODERN_VERSION, SUPPORTED_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from manifold_common.proxy_contract import PROXY_SERVER_NAME

from .. import __version__
from ..registry import Registry
from .capabilities import AggregatingServer
from .hosts import HostPolicy
from .server import SERVER_TITLE

Serving = tuple[AggregatingServer, Registry]
"""The running proxy's MCP server and its registry: what the card says it advertises and fronts."""

CARD_SCHEMA = "https://static.modelcontextprotocol.io/schemas/v2/server-card.schema.json"
CARD_MEDIA_TYPE = "application/mcp-server-card+json"
CATALOG_PATH = "/.well-known/ai-catalog.json"
CARD_NAME = f"{PROXY_SERVER_NAME}/mcp-proxy"
"""The card's name: `namespace/name`, as the draft asks."""
DESCRIPTION = "One MCP endpoint in front of several MCP servers: their tools, resources and prompts, merged."
CACHE_CONTROL = "public, max-age=60"
"""Short: the capabilities and the usable servers change as servers come and go; the ETag keeps rereads cheap."""
SERVERS_META_KEY = f"{PROXY_SERVER_NAME}/servers"
CAPABILITIES_META_KEY = f"{PROXY_SERVER_NAME}/capabilities"


@dataclass(frozen=True)
class CardSite:
    """Where the front is reached, and what guards it: what the card says of the remotes."""

    base_url: str | None
    """The front's public base URL (no path); None: the address the request came to."""
    mcp_path: str
    sse_path: str
    requires_auth: bool
    """Whether the MCP routes need a bearer token (static tokens or `[proxy.auth]`)."""
    policy: HostPolicy
    on_reject: Callable[[str], None] | None = None


def server_card(serving: Serving | None, base_url: str, site: CardSite) -> dict[str, Any]:
    """The card of the proxy reached at `base_url`; `serving` (None while not serving) adds what it advertises."""
    headers = (
        [{"name": "Authorization", "description": "Bearer access token", "isRequired": True, "isSecret": True}]
        if site.requires_auth
        else []
    )
    remotes: list[dict[str, Any]] = []
    for kind, path in (("streamable-http", site.mcp_path), ("sse", site.sse_path)):
        remote: dict[str, Any] = {"type": kind, "url": base_url + path}
        if headers:
            remote["headers"] = headers
        remote["supportedProtocolVersions"] = list(SUPPORTED_PROTOCOL_VERSIONS)
        remotes.append(remote)
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "name": CARD_NAME,
        "version": __version__,
        "title": SERVER_TITLE,
        "description": DESCRIPTION,
        "remotes": remotes,
    }
    if serving is not None:
        server, registry = serving
        capabilities = server.get_capabilities(protocol_version=LATEST_MODERN_VERSION)
        meta: dict[str, Any] = {
            CAPABILITIES_META_KEY: capabilities.model_dump(mode="json", by_alias=True, exclude_none=True)
        }
        if not site.requires_auth:  # who is behind the proxy is for its users to know
            meta[SERVERS_META_KEY] = sorted(u.name for u in registry.upstreams.values() if u.usable)
        card["_meta"] = meta
    return card


def ai_catalog(base_url: str, site: CardSite) -> dict[str, Any]:
    """The domain's AI catalog: one entry, the proxy's card."""
    entry = {"identifier": CARD_NAME, "type": CARD_MEDIA_TYPE, "url": f"{base_url}{site.mcp_path}/server-card"}
    return {"specVersion": "1.0", "entries": [entry]}


def server_card_routes(source: Callable[[], Serving | None], site: CardSite) -> list[BaseRoute]:
    """The card and catalog routes, reading the running proxy from `source` on each request."""

    def base_of(request: Request) -> str:
        return (site.base_url or str(request.base_url)).rstrip("/")

    async def card(request: Request) -> Response:
        if (refused := _foreign_host(request, site)) is not None:
            return refused
        return _revalidated(request, server_card(source(), base_of(request), site), CARD_MEDIA_TYPE)

    async def catalog(request: Request) -> Response:
        if (refused := _foreign_host(request, site)) is not None:
            return refused
        return _revalidated(request, ai_catalog(base_of(request), site), "application/json")

    return [
        Route(f"{site.mcp_path}/server-card", card, methods=["GET"]),
        Route(CATALOG_PATH, catalog, methods=["GET"]),
    ]


def _foreign_host(request: Request, site: CardSite) -> Response | None:
    if site.policy.host_allowed(request.headers.get("host")):
        return None
    if site.on_reject is not None:
        site.on_reject("foreign_host")
    return PlainTextResponse("Invalid Host header", status_code=421)


def _revalidated(request: Request, document: dict[str, Any], media_type: str) -> Response:
    """`document` with a strong ETag of its body, or a 304 when the client holds that body already."""
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*`, or any listed tag equal to ours by weak comparison."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)
