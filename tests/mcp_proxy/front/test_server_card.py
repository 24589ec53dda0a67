"""The server card of the aggregate (experimental), on the real HTTP front over loopback."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp_types.version import SUPPORTED_PROTOCOL_VERSIONS

from mcp_proxy import __version__
from mcp_proxy.front.server_card import CARD_MEDIA_TYPE, CARD_SCHEMA
from mcp_proxy.http_app import build_http_app
from tests.mcp_proxy.harness import MemoryUpstreams, failing_transport
from tests.mcp_proxy.http_support import front_config, serving
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

CARD_PATH = "/mcp/server-card"
CATALOG_PATH = "/.well-known/ai-catalog.json"
TOKEN = "card-test-token-0123456789"


@asynccontextmanager
async def card_front(
    *, server_card: bool = True, security: Mapping[str, Any] | None = None
) -> AsyncGenerator[httpx2.AsyncClient]:
    """The HTTP front over "alpha" and "beta" (usable) and "gamma" (whose connection is refused)."""
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta"), "gamma": failing_transport}
    config = front_config({name: {} for name in upstreams}, security, server_card=server_card)
    app = build_http_app(config, transport_factory=MemoryUpstreams(upstreams))
    async with serving(app) as url, httpx2.AsyncClient(base_url=url) as http:
        yield http


async def test_the_card_and_the_catalog_are_off_unless_enabled() -> None:
    async with card_front(server_card=False) as http:
        assert (await http.get(CARD_PATH)).status_code == 404
        assert (await http.get(CATALOG_PATH)).status_code == 404


async def test_the_card_describes_the_proxy_its_endpoints_and_the_usable_servers() -> None:
    async with card_front() as http:
        response = await http.get(CARD_PATH)
        card = response.json()
        url = str(http.base_url).rstrip("/")
        async with Client(card["remotes"][0]["url"], mode="auto", cache=None) as client:
            answered = await client.call_tool("alpha__echo", {"message": "card"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(CARD_MEDIA_TYPE)
    assert response.headers["access-control-allow-origin"] == "*"
    assert card["$schema"] == CARD_SCHEMA
    assert card["name"] == "manifold/mcp-proxy"
    assert card["version"] == __version__
    assert card["title"] and card["description"]
    assert card["remotes"] == [
        {
            "type": "streamable-http",
            "url": f"{url}/mcp",
            "supportedProtocolVersions": list(SUPPORTED_PROTOCOL_VERSIONS),
        },
        {"type": "sse", "url": f"{url}/sse", "supportedProtocolVersions": list(SUPPORTED_PROTOCOL_VERSIONS)},
    ]
    assert card["_meta"]["manifold/servers"] == ["alpha", "beta"]  # gamma is not usable
    assert "tools" in card["_meta"]["manifold/capabilities"]
    assert "tools" not in card  # no primitive listings: those stay with the lists
    assert isinstance(answered.content[0], types.TextContent) and answered.content[0].text == "alpha:card"


async def test_the_catalog_points_at_the_card() -> None:
    async with card_front() as http:
        catalog = (await http.get(CATALOG_PATH)).json()
        (entry,) = catalog["entries"]
        card = await http.get(entry["url"])
    assert catalog["specVersion"] == "1.0"
    assert entry["identifier"] == "manifold/mcp-proxy"
    assert entry["type"] == CARD_MEDIA_TYPE
    assert card.status_code == 200
    assert card.json()["name"] == entry["identifier"]


@pytest.mark.parametrize("path", [CARD_PATH, CATALOG_PATH])
async def test_a_client_holding_the_current_body_is_answered_304(path: str) -> None:
    async with card_front() as http:
        first = await http.get(path)
        etag = first.headers["etag"]
        same = await http.get(path, headers={"If-None-Match": etag})
        weak = await http.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        stale = await http.get(path, headers={"If-None-Match": '"not-the-current-body"'})
    assert etag.startswith('"') and etag.endswith('"')
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etag)
    assert weak.status_code == 304
    assert (stale.status_code, stale.content) == (200, first.content)
    assert "max-age" in first.headers["cache-control"]


@pytest.mark.parametrize("path", [CARD_PATH, CATALOG_PATH])
async def test_a_foreign_host_is_refused_but_any_origin_may_read(path: str) -> None:
    async with card_front() as http:
        foreign = await http.get(path, headers={"Host": "evil.example"})
        cross_origin = await http.get(path, headers={"Origin": "https://elsewhere.example"})
    assert foreign.status_code == 421
    assert cross_origin.status_code == 200
    assert cross_origin.headers["access-control-allow-origin"] == "*"


async def test_with_tokens_the_card_is_public_but_names_no_server_and_asks_for_the_token() -> None:
    async with card_front(security={"auth_tokens": [TOKEN]}) as http:
        card = await http.get(CARD_PATH)
        mcp = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert mcp.status_code == 401  # the MCP routes still need the token
    assert card.status_code == 200
    body = card.json()
    assert "manifold/servers" not in body["_meta"]
    for remote in body["remotes"]:
        assert remote["headers"] == [
            {"name": "Authorization", "description": "Bearer access token", "isRequired": True, "isSecret": True}
        ]
    assert TOKEN not in card.text
