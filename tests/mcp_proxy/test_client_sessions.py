"""`isolation = "per-client"` means per client for modern clients too, counted in upstream sessions.

A modern (2026-07-28) request carries no connection: the client is known by its bearer token's
principal, or by the stream it speaks on (stdio, SSE). One that is neither is refused saying why,
never given a session per call.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client._memory import InMemoryTransport  # pyright: ignore[reportPrivateUsage]
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.memory import create_client_server_memory_streams

from mcp_proxy.app import Proxy
from tests.upstreams import build_upstream

from .harness import proxy_over
from .http_support import http_front
from .test_interaction import text_of

pytestmark = pytest.mark.anyio

PER_CLIENT = {"alpha": {"isolation": "per-client"}}
CALLS = 3
TOKENS = ["token-of-ada", "token-of-bob"]


class CountedUpstream:
    """An in-memory upstream that counts the sessions opened to it."""

    def __init__(self) -> None:
        self.server = build_upstream("alpha")
        self.sessions = 0

    def __call__(self) -> Any:
        self.sessions += 1
        return InMemoryTransport(self.server)


async def call_echo(client: Client, times: int = CALLS) -> list[types.CallToolResult]:
    return [await client.call_tool("alpha__echo", {"message": str(index)}) for index in range(times)]


@asynccontextmanager
async def modern_http_client(url: str, token: str | None) -> AsyncGenerator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto", cache=None) as client,
    ):
        yield client


async def test_modern_clients_over_http_get_one_session_per_bearer_token() -> None:
    upstream = CountedUpstream()
    async with http_front({"alpha": upstream}, servers=PER_CLIENT, security={"auth_tokens": TOKENS}) as base:
        url = f"{base}/mcp"
        for token in [*TOKENS, TOKENS[0]]:  # the first client comes back on a new connection
            async with modern_http_client(url, token) as client:
                results = await call_echo(client)
                assert client.protocol_version == "2026-07-28"
            assert [text_of(r) for r in results] == ["alpha:0", "alpha:1", "alpha:2"]
    assert upstream.sessions == 1 + len(TOKENS)  # the main connection and one per client


async def test_a_modern_http_client_without_a_token_is_refused_saying_why() -> None:
    upstream = CountedUpstream()
    async with (
        http_front({"alpha": upstream}, servers=PER_CLIENT) as base,
        modern_http_client(f"{base}/mcp", None) as c,
    ):
        refused = await c.call_tool("alpha__echo", {"message": "x"})
        listed = await c.list_tools()  # what needs no session of its own still works
    assert refused.is_error is True
    reason = text_of(refused)
    assert 'isolation = "per-client"' in reason and "bearer token" in reason and "auth_tokens" in reason
    assert "alpha__echo" in {tool.name for tool in listed.tools}
    assert upstream.sessions == 1


async def test_modern_clients_over_sse_get_one_session_per_stream() -> None:
    upstream = CountedUpstream()
    async with http_front({"alpha": upstream}, servers=PER_CLIENT) as base:
        for _ in range(2):
            async with Client(sse_client(f"{base}/sse"), mode="auto", cache=None) as client:
                results = await call_echo(client)
            assert all(r.is_error is not True for r in results)
    assert upstream.sessions == 1 + 2


@asynccontextmanager
async def over_a_stream(proxy: Proxy) -> AsyncGenerator[TransportStreams]:
    """The proxy served on one duplex stream pair, as the stdio front serves it."""
    server = proxy.server.server
    async with (
        create_client_server_memory_streams() as (client_streams, (read, write)),
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(lambda: server.run(read, write, server.create_initialization_options()))
        yield client_streams
        tg.cancel_scope.cancel()


async def test_a_modern_client_on_a_stream_like_stdio_keeps_one_session() -> None:
    upstream = CountedUpstream()
    async with (
        proxy_over({"alpha": upstream}, PER_CLIENT) as proxy,
        Client(over_a_stream(proxy), mode="auto", cache=None) as client,
    ):
        results = await call_echo(client)
        assert client.protocol_version == "2026-07-28"
        sessions = proxy.registry.upstreams["alpha"].status()["client_sessions"]
    assert all(r.is_error is not True for r in results)
    assert sessions == 1
    assert upstream.sessions == 2


async def test_handshake_era_clients_still_get_one_session_per_connection() -> None:
    upstream = CountedUpstream()
    async with http_front({"alpha": upstream}, servers=PER_CLIENT) as base:
        for _ in range(2):
            async with Client(f"{base}/mcp", mode="legacy", cache=None) as client:
                await call_echo(client)
    assert upstream.sessions == 1 + 2
