"""Prometheus metrics: names, labels and values after a scripted workload, and label hygiene."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client._memory import InMemoryTransport  # pyright: ignore[reportPrivateUsage]
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.server import MCPServer
from prometheus_client.parser import text_string_to_metric_families

from mcp_proxy import __version__
from mcp_proxy.metrics import ProxyMetrics
from tests.mcp_proxy.harness import UpstreamFactory
from tests.mcp_proxy.http_support import INITIALIZE, MCP_HEADERS, http_front
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

STATE_DEADLINE = 10.0
POLL_INTERVAL = 0.02
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def cuttable(server: MCPServer, cut: anyio.Event) -> UpstreamFactory:
    """An upstream that serves until `cut` is set, then drops its connection and refuses new ones."""

    @asynccontextmanager
    async def connect() -> AsyncGenerator[TransportStreams]:
        if cut.is_set():
            raise ConnectionRefusedError("the upstream was cut")
        async with InMemoryTransport(server) as (read, write), anyio.create_task_group() as tg:

            async def drop_when_cut() -> None:
                await cut.wait()
                await read.aclose()

            tg.start_soon(drop_when_cut)
            yield read, write
            tg.cancel_scope.cancel()

    return connect


async def scrape(http: httpx2.AsyncClient) -> Samples:
    """Every sample of /metrics, keyed by name and labels."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def wait_for_state(http: httpx2.AsyncClient, server: str, state: str) -> None:
    with anyio.fail_after(STATE_DEADLINE):
        while True:
            detail = (await http.get("/health/detailed")).json()
            if {s["name"]: s["state"] for s in detail["servers"]}[server] == state:
                return
            await anyio.sleep(POLL_INTERVAL)


async def test_a_scripted_workload_shows_in_every_metric_with_bounded_labels() -> None:
    cut = anyio.Event()
    upstreams = {"alpha": build_upstream("alpha"), "beta": cuttable(build_upstream("beta"), cut)}
    servers = {"alpha": {"timeout": 0.5}, "beta": {"reconnect_initial": 0.05}}
    async with http_front(upstreams, servers=servers) as url, httpx2.AsyncClient(base_url=url) as http:
        async with Client(f"{url}/mcp", mode="legacy", cache=None) as client:
            await client.list_tools()
            await client.call_tool("alpha__echo", {"message": "hi"})
            await client.call_tool("alpha__fail", {})
            await client.call_tool("alpha__hang", {})  # outlives alpha's 0.5 s timeout
            with pytest.raises(MCPError):
                await client.call_tool("no_such_tool", {})
            during = await scrape(http)
            cut.set()
            await wait_for_state(http, "beta", "down")
            await client.call_tool("beta__echo", {"message": "anyone?"})
        # beta's next connection attempt (a restart) comes after its backoff delay.
        with anyio.fail_after(10):
            while not value(after := await scrape(http), "manifold_upstream_restarts_total", server="beta"):
                await anyio.sleep(0.05)

    assert value(during, "manifold_sessions", transport="streamable_http", era="handshake") == 1
    assert value(after, "manifold_sessions", transport="streamable_http", era="handshake") == 0
    assert value(after, "manifold_requests_total", method="tools/list", outcome="ok") == 1
    assert value(after, "manifold_requests_total", method="tools/call", outcome="ok") == 4
    assert value(after, "manifold_requests_total", method="tools/call", outcome="error") == 1
    assert value(after, "manifold_requests_total", method="initialize", outcome="ok") == 1
    assert value(after, "manifold_request_duration_seconds_count", method="tools/call") == 5
    for outcome, tool, server in [
        ("ok", "echo", "alpha"),
        ("tool_error", "fail", "alpha"),
        ("timeout", "hang", "alpha"),
        ("unavailable", "echo", "beta"),
    ]:
        assert value(after, "manifold_tool_calls_total", server=server, tool=tool, outcome=outcome) == 1, outcome
        assert value(after, "manifold_tool_call_duration_seconds_count", server=server, tool=tool) == 1
    # The unknown name was refused before anything per tool was counted.
    assert not any(
        name.startswith("manifold_tool_calls") and ("tool", "no_such_tool") in labels for name, labels in after
    )
    assert value(after, "manifold_tool_call_response_bytes_count", server="alpha") == 3
    assert value(after, "manifold_upstream_requests_total", server="alpha", method="tools/call", outcome="ok") == 2
    assert value(after, "manifold_upstream_requests_total", server="alpha", method="tools/call", outcome="timeout") == 1
    assert (
        value(after, "manifold_upstream_requests_total", server="beta", method="tools/call", outcome="unavailable") == 1
    )
    # A request that was never sent has no duration.
    assert value(after, "manifold_upstream_request_duration_seconds_count", server="beta", method="tools/call") is None
    assert value(after, "manifold_upstream_up", server="alpha") == 1
    assert value(after, "manifold_upstream_up", server="beta") == 0
    assert value(after, "manifold_upstream_tools", server="alpha") == 13
    assert value(after, "manifold_upstream_restarts_total", server="alpha") == 0
    assert (value(after, "manifold_upstream_restarts_total", server="beta") or 0) >= 1
    assert value(after, "manifold_catalog_items", kind="tools") == 26
    assert value(after, "manifold_catalog_conflicts") == 0
    assert value(after, "manifold_resource_cache_entries") == 0
    assert value(after, "manifold_resource_cache_hits_total") == 0
    build = [labels for name, labels in after if name == "manifold_build_info"]
    assert len(build) == 1 and ("version", __version__) in build[0]


async def test_connections_are_counted_by_transport_and_era_while_open() -> None:
    async with http_front() as url, httpx2.AsyncClient(base_url=url) as http:
        async with Client(sse_client(f"{url}/sse"), mode="legacy", cache=None) as client:
            await client.list_tools()
            legacy_sse = await scrape(http)
        async with Client(sse_client(f"{url}/sse"), mode="auto", cache=None) as client:
            await client.list_tools()
            modern_sse = await scrape(http)
        async with Client(f"{url}/mcp", mode="auto", cache=None) as client:
            await client.list_tools()
        modern_http = await scrape(http)
    assert value(legacy_sse, "manifold_sessions", transport="sse", era="handshake") == 1
    assert value(modern_sse, "manifold_sessions", transport="sse", era="handshake") == 0
    # A modern request is its own exchange on any transport: none is left open once answered.
    assert value(modern_sse, "manifold_sessions", transport="sse", era="modern") == 0
    assert value(modern_http, "manifold_sessions", transport="streamable_http", era="modern") == 0
    assert value(modern_http, "manifold_requests_total", method="tools/list", outcome="ok") == 3
    assert value(modern_http, "manifold_requests_total", method="server/discover", outcome="ok") == 2


async def test_a_method_outside_mcp_is_counted_as_other() -> None:
    async with http_front() as url, httpx2.AsyncClient(base_url=url) as http:
        opened = await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        session = {**MCP_HEADERS, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        await http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        answer = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "made/up"}, headers=session)
        samples = await scrape(http)
    assert "-32601" in answer.text
    assert value(samples, "manifold_requests_total", method="other", outcome="error") == 1
    assert not any(("method", "made/up") in labels for _, labels in samples)


async def test_refused_http_requests_are_counted_by_reason() -> None:
    security = {"auth_tokens": ["token-for-metrics-test"], "max_body_bytes": 1024}
    async with http_front(security=security) as url, httpx2.AsyncClient(base_url=url) as http:
        await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example"})
        await http.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://evil.example"})
        await http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        authorised = {**MCP_HEADERS, "Authorization": "Bearer token-for-metrics-test"}
        await http.post("/mcp", content=b"x" * 2048, headers=authorised)
        samples = await scrape(http)
    for reason in ("foreign_host", "foreign_origin", "unauthorized", "body_too_large"):
        assert value(samples, "manifold_http_rejections_total", reason=reason) == 1, reason


def test_restarts_count_reconnections_but_not_the_first_start() -> None:
    metrics = ProxyMetrics()
    metrics.upstream_state("a", "connecting", "disabled")
    metrics.upstream_state("a", "ready", "connecting")
    metrics.upstream_state("a", "down", "ready")
    metrics.upstream_state("a", "connecting", "down")
    metrics.upstream_state("a", "ready", "connecting")
    assert metrics.registry.get_sample_value("manifold_upstream_restarts_total", {"server": "a"}) == 1


def test_the_exposition_follows_the_scrapers_accept_header() -> None:
    metrics = ProxyMetrics()
    _, plain = metrics.render(None)
    body, openmetrics = metrics.render("application/openmetrics-text; version=1.0.0")
    assert plain.startswith("text/plain")
    assert openmetrics.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_every_metric_name_carries_the_prefix_and_a_unit_suffix_where_it_has_one() -> None:
    metrics = ProxyMetrics()
    names = {family.name for family in metrics.registry.collect()}
    assert all(name.startswith("manifold_") for name in names)
    assert {n for n in names if "duration" in n} == {
        "manifold_request_duration_seconds",
        "manifold_upstream_request_duration_seconds",
        "manifold_tool_call_duration_seconds",
    }
