"""`GET /mcp/servers`: the proxy's per-upstream report, or the link's own view when there is none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import httpx2
import pytest

from chat_api.inventory import Inventory, LinkedTool
from chat_api.mcp_link import LinkState, McpLink
from chat_api.mcp_target import LinkTarget
from chat_api.upstream_status import (
    UpstreamStatus,
    fetch_proxy_report,
    proxy_health_url,
    report_from_link,
    upstreams_from_proxy,
)

pytestmark = pytest.mark.anyio

PROXY_DOCUMENT: dict[str, Any] = {
    "status": "degraded",
    "servers": [
        {
            "name": "github",
            "state": "down",
            "transport": "http",
            "counts": {"tools": 3, "resources": 2},
            "last_error": "connection refused",
            "retry_in_s": 4.5,
        },
        {"name": "database", "state": "ready", "transport": "stdio", "counts": {"tools": 3}, "last_error": None},
        {"state": "ready"},
        "garbage",
    ],
}


def test_the_health_report_lives_at_the_root_of_the_proxys_address() -> None:
    assert proxy_health_url("http://127.0.0.1:8000/mcp") == "http://127.0.0.1:8000/health/detailed"
    assert proxy_health_url("https://gw.example:9443/x/sse?k=v") == "https://gw.example:9443/health/detailed"


def test_each_upstream_keeps_its_state_transport_counts_and_error_and_malformed_entries_are_skipped() -> None:
    assert upstreams_from_proxy(PROXY_DOCUMENT) == [
        UpstreamStatus(
            name="github",
            state="down",
            transport="http",
            tools=3,
            resources=2,
            last_error="connection refused",
            retry_in_s=4.5,
        ),
        UpstreamStatus(name="database", state="ready", transport="stdio", tools=3),
    ]


def test_a_document_that_is_not_a_proxy_report_is_refused() -> None:
    assert upstreams_from_proxy({"status": "ok"}) is None
    assert upstreams_from_proxy([1, 2]) is None


async def test_the_report_is_fetched_from_the_proxy() -> None:
    seen: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json=PROXY_DOCUMENT)

    report = await fetch_proxy_report("http://proxy.test/health/detailed", httpx2.MockTransport(answer))
    assert seen == ["http://proxy.test/health/detailed"]
    assert report is not None
    status, servers = report
    assert status == "degraded"
    assert [s.name for s in servers] == ["github", "database"]


@pytest.mark.parametrize("status", [401, 404, 500])
async def test_no_report_when_the_proxy_does_not_give_one(status: int) -> None:
    transport = httpx2.MockTransport(lambda _: httpx2.Response(status, json={"error": "no"}))
    assert await fetch_proxy_report("http://proxy.test/health/detailed", transport) is None


async def test_no_report_when_the_proxy_cannot_be_reached() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    assert await fetch_proxy_report("http://proxy.test/health/detailed", httpx2.MockTransport(refuse)) is None


@dataclass
class FakeLink:
    """What `report_from_link` reads from a link."""

    inventory: Inventory | None
    ready: bool
    state: LinkState
    target: LinkTarget
    last_error: str | None = None


def tool(name: str, server: str) -> LinkedTool:
    return LinkedTool(name=name, server=server, original_name=name, description="", input_schema={})


def test_in_single_mode_the_one_server_has_the_links_transport_and_state() -> None:
    inventory = Inventory(server_name="legacy", mode="single", tools=(tool("echo", "legacy"),))
    link = FakeLink(inventory, ready=True, state=LinkState.READY, target=LinkTarget(kind="sse", url="http://x/sse"))
    status, servers = report_from_link(cast(McpLink, link))
    assert status == "healthy"
    assert servers == [UpstreamStatus(name="legacy", state="ready", transport="sse", tools=1)]


def test_without_a_proxy_report_servers_behind_a_lost_link_are_unknown() -> None:
    inventory = Inventory(server_name="manifold", mode="multi", tools=(tool("a__x", "a"), tool("b__y", "b")))
    target = LinkTarget(kind="stdio", command=("python", "-m", "mcp_proxy"))
    link = FakeLink(inventory, ready=False, state=LinkState.DOWN, target=target, last_error="connection closed")
    status, servers = report_from_link(cast(McpLink, link))
    assert status == "unhealthy"
    assert [(s.name, s.state, s.transport, s.last_error, s.tools) for s in servers] == [
        ("a", "unknown", None, None, 1),
        ("b", "unknown", None, None, 1),
    ]


def test_a_single_server_behind_a_lost_link_is_down_with_the_links_error() -> None:
    inventory = Inventory(server_name="legacy", mode="single", tools=(tool("echo", "legacy"),))
    target = LinkTarget(kind="http", url="http://x/mcp")
    link = FakeLink(inventory, ready=False, state=LinkState.DOWN, target=target, last_error="connection refused")
    _, servers = report_from_link(cast(McpLink, link))
    assert [(s.state, s.last_error) for s in servers] == [("down", "connection refused")]


def test_a_link_that_never_connected_reports_no_servers() -> None:
    link = FakeLink(None, ready=False, state=LinkState.CONNECTING, target=LinkTarget(kind="http", url="http://x/mcp"))
    assert report_from_link(cast(McpLink, link)) == ("unhealthy", [])
