"""The proxy's MCP server over in-memory upstreams, in both protocol eras."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError

from manifold_common.proxy_contract import ORIGIN_META_KEY
from mcp_proxy.upstream.supervisor import UpstreamState
from tests.mcp_proxy.harness import blocked_transport, failing_transport, proxy_over
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]


def _text(result: types.CallToolResult | types.GetPromptResult) -> str:
    content = result.messages[0].content if isinstance(result, types.GetPromptResult) else result.content[0]
    assert isinstance(content, types.TextContent)
    return content.text


@pytest.mark.parametrize("mode", ERAS)
async def test_tools_from_every_upstream_are_listed_namespaced_with_their_origin(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        tools = (await client.list_tools()).tools
    names = [t.name for t in tools]
    assert "alpha__echo" in names and "beta__echo" in names
    assert names == sorted(names)
    echo = next(t for t in tools if t.name == "beta__echo")
    assert echo.meta is not None and echo.meta[ORIGIN_META_KEY] == {"server": "beta", "name": "echo"}
    assert echo.description == "Echo a message from beta."
    assert echo.annotations is not None and echo.annotations.read_only_hint is True


@pytest.mark.parametrize("mode", ERAS)
async def test_a_namespaced_call_reaches_the_owning_upstream(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        alpha = await client.call_tool("alpha__echo", {"message": "hi"})
        beta = await client.call_tool("beta__echo", {"message": "hi"})
    assert _text(alpha) == "alpha:hi"
    assert _text(beta) == "beta:hi"


@pytest.mark.parametrize("mode", ERAS)
async def test_an_unknown_tool_is_invalid_params(mode: str) -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("alpha__nope", {})
    assert caught.value.code == types.INVALID_PARAMS
    assert "alpha__nope" in caught.value.message


@pytest.mark.parametrize("mode", ERAS)
async def test_upstream_tool_errors_pass_through_as_tool_results(mode: str) -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        result = await client.call_tool("alpha__fail", {})
    assert result.is_error is True
    assert "alpha failed on purpose" in _text(result)


@pytest.mark.parametrize("mode", ERAS)
async def test_results_pass_through_verbatim(mode: str) -> None:
    upstream = build_upstream("alpha")
    async with Client(upstream, mode=mode, cache=None) as direct:
        expected_picture = await direct.call_tool("picture", {})
        expected_stats = await direct.call_tool("stats", {})
    async with proxy_over({"alpha": upstream}) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        picture = await client.call_tool("alpha__picture", {})
        stats = await client.call_tool("alpha__stats", {})
    assert picture.content == expected_picture.content
    assert stats.structured_content == expected_stats.structured_content == {"count": 5}
    assert stats.content == expected_stats.content


@pytest.mark.parametrize("mode", ERAS)
async def test_progress_from_the_upstream_reaches_the_caller_before_the_result(mode: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        result = await client.call_tool("alpha__slow", {"steps": 3}, progress_callback=on_progress)
    assert _text(result) == "alpha:slow done"
    assert seen == [(1.0, 3.0, "alpha step 1"), (2.0, 3.0, "alpha step 2"), (3.0, 3.0, "alpha step 3")]


@pytest.mark.parametrize("mode", ERAS)
async def test_resources_are_rewritten_and_read_back_through_the_owning_upstream(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        uris = sorted(r.uri for r in resources)
        readme = await client.read_resource("note://beta/beta/readme")
        item = await client.read_resource("item://alpha/alpha/42")
    assert uris == ["note://alpha/alpha/readme", "note://beta/beta/readme"]
    assert sorted(t.uri_template for t in templates) == ["item://alpha/alpha/{item_id}", "item://beta/beta/{item_id}"]
    content = readme.contents[0]
    assert isinstance(content, types.TextResourceContents)
    assert content.text == "beta readme"
    assert content.uri == "note://beta/beta/readme"
    item_content = item.contents[0]
    assert isinstance(item_content, types.TextResourceContents)
    assert item_content.text == "alpha item 42"


@pytest.mark.parametrize("mode", ERAS)
async def test_prompts_are_namespaced_and_routed(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        names = sorted(p.name for p in (await client.list_prompts()).prompts)
        prompt = await client.get_prompt("beta__greet", {"who": "ada"})
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("gamma__greet", {"who": "ada"})
    assert names == ["alpha__greet", "beta__greet"]
    assert _text(prompt) == "beta greets ada"
    assert caught.value.code == types.INVALID_PARAMS


@pytest.mark.parametrize("mode", ERAS)
async def test_pagination_walks_every_tool_once_and_rejects_a_forged_cursor(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha", extra_tools=7), "beta": build_upstream("beta", extra_tools=5)}
    async with (
        proxy_over(upstreams, page_size=4) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        walked: list[str] = []
        pages = 0
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            pages += 1
            assert len(page.tools) <= 4
            walked.extend(t.name for t in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        with pytest.raises(MCPError) as caught:
            await client.list_tools(cursor="not-a-cursor")
    total = len(proxy.registry.catalog.tools)
    assert len(walked) == len(set(walked)) == total
    assert sum(1 for name in walked if "__extra" in name) == 7 + 5
    assert walked == sorted(walked)
    assert pages == -(-total // 4)
    assert caught.value.code == types.INVALID_PARAMS


@pytest.mark.parametrize("mode", ERAS)
async def test_a_dead_upstream_at_start_up_leaves_the_others_usable(mode: str) -> None:
    upstreams: dict[str, Any] = {"alpha": build_upstream("alpha"), "broken": lambda: failing_transport()}
    async with proxy_over(upstreams) as proxy, Client(proxy.server.server, mode=mode, cache=None) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("alpha__echo", {"message": "still here"})
        broken = proxy.registry.upstreams["broken"]
    assert _text(result) == "alpha:still here"
    assert not any(n.startswith("broken__") for n in names)
    assert broken.state == UpstreamState.DOWN
    assert broken.last_error is not None and "refused" in broken.last_error


async def test_a_tool_whose_server_went_down_returns_an_error_result_naming_the_server() -> None:
    async with proxy_over({"alpha": build_upstream("alpha")}) as proxy, Client(proxy.server.server) as client:
        upstream = proxy.registry.upstreams["alpha"]
        upstream.mark_disconnected()
        with anyio.fail_after(5):
            while upstream.state == UpstreamState.READY:
                await anyio.lowlevel.checkpoint()
        result = await client.call_tool("alpha__echo", {"message": "hi"})
    assert result.is_error is True
    assert "server 'alpha'" in _text(result)


@pytest.mark.parametrize("mode", ERAS)
async def test_a_late_server_joins_and_clients_are_told_the_tools_changed(mode: str) -> None:
    # Both servers are still connecting when start-up gives up on them, and each joins only
    # when its gate opens: every notice the client gets belongs to the join the test caused.
    # (An ungated server that happened to miss the start-up timeout under load would join on
    # its own, and its notice would be taken for the late server's.)
    gates = {"first": anyio.Event(), "late": anyio.Event()}
    upstreams: dict[str, Any] = {name: blocked_transport(gate, build_upstream(name)) for name, gate in gates.items()}
    notices_in, notices = anyio.create_memory_object_stream[str](10)

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            notices_in.send_nowait("tools")

    async with (
        proxy_over(upstreams, startup_timeout=0.2) as proxy,
        Client(proxy.server.server, mode=mode, cache=None, message_handler=on_message) as client,
    ):

        async def names_after_join(server: str) -> list[str]:
            """Let `server` join, wait for the notice, and list again as a client does on it."""
            if mode == "legacy":
                gates[server].set()
                with anyio.fail_after(5):
                    assert await notices.receive() == "tools"
            else:
                async with client.listen(tools_list_changed=True) as subscription:
                    gates[server].set()
                    with anyio.fail_after(5):
                        event = await subscription.__anext__()
                assert type(event).__name__ == "ToolsListChanged"
            return [t.name for t in (await client.list_tools()).tools]

        before = [t.name for t in (await client.list_tools()).tools]  # the empty page is now cached
        with_first = await names_after_join("first")
        assert [t.name for t in (await client.list_tools()).tools] == with_first  # cached again
        after = await names_after_join("late")
    assert before == []
    assert "first__echo" in with_first and not any(n.startswith("late__") for n in with_first)
    assert "late__echo" in after and "first__echo" in after


async def test_bare_name_conflicts_are_won_by_the_higher_priority_and_reported() -> None:
    upstreams = {"low": build_upstream("low"), "high": build_upstream("high")}
    servers = {"low": {"prefix": "", "priority": 1}, "high": {"prefix": "", "priority": 5}}
    async with proxy_over(upstreams, servers) as proxy, Client(proxy.server.server, cache=None) as client:
        result = await client.call_tool("echo", {"message": "who"})
        status = proxy.registry.status()
    assert _text(result) == "high:who"
    conflict = next(c for c in status["conflicts"] if c["name"] == "echo")
    assert conflict == {"kind": "tool", "name": "echo", "winner": "high", "losers": ["low"]}


@pytest.mark.parametrize("mode", ERAS)
async def test_the_unlisted_status_resource_reports_every_server_and_follows_its_state(mode: str) -> None:
    import json

    from manifold_common.proxy_contract import STATUS_URI

    updated = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification) and message.params.uri == STATUS_URI:
            updated.set()

    upstreams: dict[str, Any] = {"alpha": build_upstream("alpha"), "broken": lambda: failing_transport()}
    async with (
        proxy_over(upstreams) as proxy,
        Client(proxy.server.server, mode=mode, cache=None, message_handler=on_message) as client,
    ):
        listed = (await client.list_resources()).resources
        content = (await client.read_resource(STATUS_URI)).contents[0]
        assert isinstance(content, types.TextResourceContents)
        before = {s["name"]: s for s in json.loads(content.text)["servers"]}
        if mode == "legacy":
            await client.session.subscribe_resource(STATUS_URI)  # pyright: ignore[reportDeprecated]
            proxy.registry.upstreams["alpha"].mark_disconnected()
            with anyio.fail_after(5):
                await updated.wait()
    assert STATUS_URI not in [r.uri for r in listed]  # readable, not listed: the proxy stays invisible
    assert before["alpha"]["state"] == "ready" and before["alpha"]["tools"] > 0
    assert before["broken"]["state"] == "down" and "refused" in before["broken"]["last_error"]


async def test_the_status_resource_reports_the_size_of_the_resource_cache() -> None:
    import json

    from mcp_proxy.front.status_resource import STATUS_URI

    async def cache_figures(client: Client) -> dict[str, Any]:
        content = (await client.read_resource(STATUS_URI)).contents[0]
        assert isinstance(content, types.TextResourceContents)
        figures: dict[str, Any] = json.loads(content.text)["resource_cache"]
        return figures

    # A handshake-era upstream states no cache hints, so its reads are kept for the configured TTL.
    servers = {"alpha": {"protocol": "legacy"}}
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, servers) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        empty = await cache_figures(client)
        await client.read_resource("note://alpha/alpha/readme")
        held = await cache_figures(client)
    assert empty == {"entries": 0, "bytes": 0}
    assert held["entries"] == 1 and held["bytes"] == proxy.server.cache.stats()["bytes"] > 0
