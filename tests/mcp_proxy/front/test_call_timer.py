"""One timer per client request: its reading and its outcome reach every series and the log line."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.server import MCPServer

from manifold_common.logging import configure_logging
from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.core.observe import NullObserver, Outcome
from mcp_proxy.core.sizes import payload_size
from mcp_proxy.upstream.supervisor import UpstreamState
from tests.mcp_proxy.harness import MemoryUpstreams, make_config
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

DEADLINE = 5.0


class CallRecorder(NullObserver):
    """Keeps every client request, tool call and upstream request the proxy reports."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Outcome, float]] = []
        self.tool_calls: list[tuple[str, str, Outcome, float, int, int]] = []
        self.upstream: list[tuple[str, str, Outcome]] = []

    def client_request(self, method: str, outcome: Outcome, seconds: float) -> None:
        self.requests.append((method, outcome, seconds))

    def tool_call(
        self, server: str, tool: str, outcome: Outcome, seconds: float, request_bytes: int, response_bytes: int
    ) -> None:
        self.tool_calls.append((server, tool, outcome, seconds, request_bytes, response_bytes))

    def upstream_request(self, server: str, method: str, outcome: Outcome, seconds: float) -> None:
        self.upstream.append((server, method, outcome))

    def calls_of(self, method: str) -> list[tuple[Outcome, float]]:
        return [(outcome, seconds) for name, outcome, seconds in self.requests if name == method]


def refusing_upstream() -> MCPServer:
    """An upstream whose tool answers with a JSON-RPC error rather than a tool result."""
    server = MCPServer("refusing")

    @server.tool(description="Refuse with a JSON-RPC error.")
    def refuse() -> str:
        raise MCPError(types.INVALID_PARAMS, "refused on purpose")

    return server


@asynccontextmanager
async def recorded_proxy(
    upstreams: Mapping[str, MCPServer], servers: Mapping[str, Mapping[str, Any]] | None = None
) -> AsyncGenerator[tuple[Proxy, CallRecorder]]:
    recorder = CallRecorder()
    config = make_config(servers or {name: {} for name in upstreams})
    async with running_proxy(config, MemoryUpstreams(upstreams), observer=recorder) as proxy:
        yield proxy, recorder


async def test_a_tool_call_is_timed_once_and_both_series_get_the_same_reading() -> None:
    async with (
        recorded_proxy({"alpha": build_upstream("alpha")}) as (proxy, recorder),
        Client(proxy.server.server, cache=None) as client,
    ):
        result = await client.call_tool("alpha__echo", {"message": "hi"})
    [(outcome, seconds)] = recorder.calls_of("tools/call")
    assert outcome == "ok"
    passed_on = len("alpha:hi") + payload_size(result.structured_content)  # the text, and its structured twin
    assert recorder.tool_calls == [("alpha", "echo", "ok", seconds, payload_size({"message": "hi"}), passed_on)]
    assert ("alpha", "tools/call", "ok") in recorder.upstream


async def test_every_ending_of_a_tool_call_is_named_from_one_vocabulary() -> None:
    upstreams = {"alpha": build_upstream("alpha"), "refusing": refusing_upstream(), "gone": build_upstream("gone")}
    servers = {"alpha": {"timeout": 0.2}, "refusing": {}, "gone": {"reconnect_initial": 60}}
    async with (
        recorded_proxy(upstreams, servers) as (proxy, recorder),
        Client(proxy.server.server, cache=None) as client,
    ):
        gone = proxy.registry.upstreams["gone"]
        gone.mark_disconnected()
        with anyio.fail_after(DEADLINE):
            while gone.state == UpstreamState.READY:
                await anyio.lowlevel.checkpoint()
        await client.call_tool("gone__echo", {"message": "anyone?"})
        await client.call_tool("alpha__fail", {})
        await client.call_tool("alpha__hang", {})  # outlives alpha's 0.2 s timeout
        with pytest.raises(MCPError):
            await client.call_tool("refusing__refuse", {})
    assert [(server, tool, outcome) for server, tool, outcome, *_ in recorder.tool_calls] == [
        ("gone", "echo", "unavailable"),
        ("alpha", "fail", "tool_error"),
        ("alpha", "hang", "timeout"),
        ("refusing", "refuse", "error"),
    ]
    # A failed server is answered with a tool result; only the upstream's own JSON-RPC error fails the request.
    assert [outcome for outcome, _ in recorder.calls_of("tools/call")] == ["ok", "ok", "ok", "error"]
    assert [outcome for _, method, outcome in recorder.upstream if method == "tools/call"] == [
        "unavailable",
        "ok",
        "timeout",
        "error",
    ]


async def test_a_call_refused_before_it_is_routed_is_a_failed_request_and_no_tool_call() -> None:
    async with (
        recorded_proxy({"alpha": build_upstream("alpha")}) as (proxy, recorder),
        Client(proxy.server.server, cache=None) as client,
    ):
        with pytest.raises(MCPError):
            await client.call_tool("alpha__nope", {})
    assert [outcome for outcome, _ in recorder.calls_of("tools/call")] == ["error"]
    assert recorder.tool_calls == []


async def test_a_tool_call_the_client_cancels_ends_cancelled_everywhere() -> None:
    async with (
        recorded_proxy({"alpha": build_upstream("alpha")}) as (proxy, recorder),
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        alpha = proxy.registry.upstreams["alpha"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: client.call_tool("alpha__hang", {}))
            with anyio.fail_after(DEADLINE):
                while alpha.status()["in_flight"] == 0:
                    await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
        with anyio.fail_after(DEADLINE):
            while not recorder.tool_calls or not recorder.calls_of("tools/call"):
                await anyio.lowlevel.checkpoint()
    assert [outcome for outcome, _ in recorder.calls_of("tools/call")] == ["cancelled"]
    assert [(tool, outcome) for _, tool, outcome, *_ in recorder.tool_calls] == [("hang", "cancelled")]
    assert ("alpha", "tools/call", "cancelled") in recorder.upstream


async def test_every_request_is_timed_and_notifications_are_only_shown_to_the_watcher() -> None:
    seen: list[str] = []
    async with recorded_proxy({"alpha": build_upstream("alpha")}) as (proxy, recorder):
        proxy.server.call_timer.watch_messages(lambda ctx: seen.append(ctx.method))
        async with Client(proxy.server.server, mode="legacy", cache=None) as client:
            await client.list_tools()
            await client.list_tools()  # answered from the list cache, timed all the same
    assert [method for method, _, _ in recorder.requests] == ["initialize", "tools/list", "tools/list"]
    assert seen == ["initialize", "notifications/initialized", "tools/list", "tools/list"]


async def test_the_log_line_carries_the_reading_the_metrics_got() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    async with (
        recorded_proxy({"alpha": build_upstream("alpha")}) as (proxy, recorder),
        Client(proxy.server.server, cache=None) as client,
    ):
        await client.call_tool("alpha__stats", {})
    [line] = [event for event in map(json.loads, out.getvalue().splitlines()) if event["event"] == "tool_call"]
    [(server, tool, outcome, seconds, request_bytes, response_bytes)] = recorder.tool_calls
    assert (line["server"], line["tool"], line["outcome"]) == (server, tool, outcome) == ("alpha", "stats", "ok")
    assert line["duration_ms"] == round(seconds * 1000, 2)
    assert (line["request_bytes"], line["response_bytes"]) == (request_bytes, response_bytes)
    assert response_bytes > 0
