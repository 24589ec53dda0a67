"""List pages served from their first answer until the catalog changes, per protocol version."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from opentelemetry import trace
from opentelemetry.trace import NoOpTracer

from mcp_proxy.app import running_proxy
from mcp_proxy.front.server import ProxyServer
from mcp_proxy.metrics import ProxyMetrics
from tests.mcp_proxy.harness import MemoryUpstreams, blocked_transport, make_config, proxy_over
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]


@pytest.mark.parametrize("mode", ERAS)
async def test_repeated_listings_are_served_from_the_first_answer(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        cache = proxy.server.list_cache
        first = await client.list_tools()
        hits_before = cache.hits
        again = [await client.list_tools() for _ in range(3)]
        prompts = [await client.list_prompts() for _ in range(2)]
    assert cache.hits - hits_before == 3 + 1  # three tool listings and the second prompt listing
    assert all(listing == first for listing in again)
    assert prompts[0] == prompts[1]
    assert {t.name for t in first.tools} >= {"alpha__echo", "beta__echo"}


async def test_a_catalog_change_replaces_the_cached_pages() -> None:
    gate = anyio.Event()
    upstreams: dict[str, Any] = {
        "alpha": build_upstream("alpha"),
        "late": blocked_transport(gate, build_upstream("late")),
    }
    async with (
        proxy_over(upstreams, startup_timeout=0.2) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        before = {t.name for t in (await client.list_tools()).tools}
        assert {t.name for t in (await client.list_tools()).tools} == before  # now cached
        gate.set()
        # Wait for the late server's own tools: any rebuild replaces the catalog (alpha may still
        # be joining if it missed the start-up timeout), and only this one must show in the page.
        with anyio.fail_after(5):
            while proxy.registry.catalog.route_tool("late__echo") is None:
                await anyio.sleep(0.01)
        after = {t.name for t in (await client.list_tools()).tools}
    assert "late__echo" not in before
    assert "late__echo" in after


async def test_each_protocol_version_gets_its_own_page() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as legacy,
        Client(proxy.server.server, mode="auto", cache=None) as modern,
    ):
        old = await legacy.list_tools()
        new = await modern.list_tools()
        assert await legacy.list_tools() == old
        assert await modern.list_tools() == new
        versions = {key[1] for key in proxy.server.list_cache._pages}  # pyright: ignore[reportPrivateUsage]
    assert len(versions) == 2
    assert [t.name for t in old.tools] == [t.name for t in new.tools]


async def test_pages_are_cached_per_cursor_and_a_bad_cursor_fails_every_time() -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with (
        proxy_over(upstreams, page_size=1) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):

        async def every_page() -> list[str]:
            names: list[str] = []
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                names += [t.name for t in page.tools]
                if page.next_cursor is None:
                    return names
                cursor = page.next_cursor

        first_pass = await every_page()
        hits = proxy.server.list_cache.hits
        second_pass = await every_page()
        assert proxy.server.list_cache.hits - hits == len(first_pass)
        for _ in range(2):
            with pytest.raises(MCPError) as caught:
                await client.list_tools(cursor="not-a-cursor")
            assert caught.value.error.code == types.INVALID_PARAMS
    assert second_pass == first_pass
    assert len(first_pass) > 1


async def test_metrics_count_the_listings_answered_from_the_cache() -> None:
    metrics = ProxyMetrics()
    upstreams = MemoryUpstreams({"alpha": build_upstream("alpha")})
    async with running_proxy(make_config({"alpha": {}}), upstreams, observer=metrics) as proxy:
        metrics.attach(proxy)
        async with Client(proxy.server.server, mode="legacy", cache=None) as client:
            for _ in range(3):
                await client.list_tools()
    labels = {"method": "tools/list", "outcome": "ok"}
    assert metrics.registry.get_sample_value("manifold_requests_total", labels) == 3
    assert proxy.server.list_cache.hits >= 2


class _InstalledProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return NoOpTracer()


async def test_the_sdk_tracing_middleware_stays_only_when_a_tracer_provider_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mcp.server._otel import OpenTelemetryMiddleware  # pyright: ignore[reportPrivateUsage]

    async with proxy_over({"alpha": build_upstream("alpha")}) as proxy:
        untraced = proxy.server.server.middleware
        monkeypatch.setattr(trace, "get_tracer_provider", _InstalledProvider)
        traced = ProxyServer(proxy.registry).server.middleware
    assert not any(isinstance(m, OpenTelemetryMiddleware) for m in untraced)
    assert any(isinstance(m, OpenTelemetryMiddleware) for m in traced)
