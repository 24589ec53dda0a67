"""`GET /mcp/servers`: the proxy's status resource, or the link's own view when there is none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from chat_api.inventory import Inventory, LinkedTool, ServerDetail
from chat_api.mcp_link import LinkState, McpLink
from chat_api.mcp_target import LinkTarget
from chat_api.upstream_status import UpstreamStatus, report_from_link, report_from_proxy


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


def test_the_proxys_report_gives_each_servers_state_transport_counts_and_error() -> None:
    reported = (
        ServerDetail("database", healthy=True, tools=3, state="ready", transport="stdio"),
        ServerDetail(
            "github", False, 3, 2, state="down", last_error="connection refused", transport="http", retry_in_s=4.5
        ),
    )
    inventory = Inventory(server_name="manifold", mode="multi", tools=(tool("a__x", "a"),), reported=reported)
    link = FakeLink(inventory, ready=True, state=LinkState.READY, target=LinkTarget(kind="http", url="http://x/mcp"))
    report = report_from_proxy(cast(McpLink, link))
    assert report is not None
    status, servers = report
    assert status == "degraded"
    assert servers[1] == UpstreamStatus(
        name="github",
        state="down",
        transport="http",
        tools=3,
        resources=2,
        last_error="connection refused",
        retry_in_s=4.5,
    )


def test_without_a_status_resource_there_is_no_proxy_report() -> None:
    inventory = Inventory(server_name="legacy", mode="single", tools=(tool("echo", "legacy"),))
    link = FakeLink(inventory, ready=True, state=LinkState.READY, target=LinkTarget(kind="sse", url="http://x/sse"))
    assert report_from_proxy(cast(McpLink, link)) is None
