"""The HTTP front protected by `[proxy.auth]`, for tests that bring tokens from the test authorization server."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer

from mcp_proxy.http_app import build_http_app
from mcp_proxy.listeners import listening_socket, socket_url
from tests.mcp_proxy.harness import MemoryUpstreams, UpstreamFactory
from tests.mcp_proxy.http_support import INITIALIZE, MCP_HEADERS, front_config, serving
from tests.upstreams import build_upstream

REQUIRED_SCOPE = "mcp:tools"
_PARAMETER = re.compile(r'(\w+)="([^"]*)"')


@asynccontextmanager
async def oauth_front(
    issuer: str,
    *,
    upstreams: Mapping[str, MCPServer | UpstreamFactory] | None = None,
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    security: Mapping[str, Any] | None = None,
    **auth: Any,
) -> AsyncGenerator[str]:
    """The HTTP front with `[proxy.auth]` for `issuer` (plus `auth`), its `public_url` its own address; yields it.

    By default it requires the scope `mcp:tools` and tolerates no clock difference (`leeway = 0`),
    so an expiry test need not wait out the default leeway.
    """
    sock = listening_socket("127.0.0.1", 0)
    settings = {
        "type": "oauth",
        "issuer": issuer,
        "public_url": socket_url(sock),
        "scopes": [REQUIRED_SCOPE],
        "leeway": 0,
        **auth,
    }
    upstreams = upstreams if upstreams is not None else {"alpha": build_upstream("alpha")}
    config = front_config(servers if servers is not None else {name: {} for name in upstreams}, security, auth=settings)
    app = build_http_app(config, transport_factory=MemoryUpstreams(upstreams))
    async with serving(app, sock=sock) as url:
        yield url


@asynccontextmanager
async def bearer_client(url: str, token: str) -> AsyncGenerator[Client]:
    """An SDK client over streamable HTTP that sends `token` with every request."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(url, http_client=http), cache=None) as client,
    ):
        yield client


async def initialize(http: httpx2.AsyncClient, url: str, token: str | None) -> httpx2.Response:
    """A raw `initialize` POST, with `token` as the bearer when given."""
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post(url, json=INITIALIZE, headers=headers)


def challenge_of(response: httpx2.Response) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer k="v", ...` header."""
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer "), header
    return dict(_PARAMETER.findall(header))
