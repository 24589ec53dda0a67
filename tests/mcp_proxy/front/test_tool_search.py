"""Tool search mode: the meta-tools in place of the catalog, in-process and through a real proxy process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.stdio import stdio_client

from mcp_proxy.front.tool_search import CALL_TOOL, MAX_LIMIT, SEARCH_TOOLS
from tests.mcp_proxy.harness import proxy_over
from tests.processes import REPO_ROOT, stdio_proxy
from tests.upstreams import build_upstream

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def found_names(result: types.CallToolResult) -> list[str]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return [match["name"] for match in result.structured_content["tools"]]


@pytest.mark.parametrize("mode", ERAS)
async def test_search_mode_lists_the_meta_tools_and_the_always_listed_ones(mode: str) -> None:
    upstreams = {"alpha": build_upstream("alpha"), "beta": build_upstream("beta")}
    async with (
        proxy_over(upstreams, tool_search=True, tool_search_always=["beta__echo", "*__stats"]) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        listed = await client.list_tools()
    assert [t.name for t in listed.tools] == [SEARCH_TOOLS, CALL_TOOL, "alpha__stats", "beta__echo", "beta__stats"]
    assert listed.next_cursor is None


async def test_search_tools_returns_ranked_matches_with_their_schemas() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, tool_search=True) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        result = await client.call_tool(SEARCH_TOOLS, {"query": "echo a message", "limit": 3})
    names = found_names(result)
    assert names[0] == "alpha__echo"
    assert len(names) <= 3
    assert result.structured_content is not None
    first = result.structured_content["tools"][0]
    assert first["inputSchema"]["properties"]["message"]["type"] == "string"
    assert json.loads(text_of(result)) == result.structured_content  # the text says the same, as JSON


@pytest.mark.parametrize("mode", ERAS)
async def test_call_tool_routes_the_named_tool_like_a_direct_call(mode: str) -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, tool_search=True) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        wrapped = await client.call_tool(CALL_TOOL, {"name": "alpha__echo", "arguments": {"message": "hi"}})
        direct = await client.call_tool("alpha__echo", {"message": "hi"})  # still callable by name
        failing = await client.call_tool(CALL_TOOL, {"name": "alpha__fail"})
    assert text_of(wrapped) == text_of(direct) == "alpha:hi"
    assert not wrapped.is_error
    assert failing.is_error and "alpha failed on purpose" in text_of(failing)


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        (CALL_TOOL, {"name": "alpha__nothing"}, "no tool is named 'alpha__nothing'"),
        (CALL_TOOL, {}, "needs 'name'"),
        (CALL_TOOL, {"name": "alpha__echo", "arguments": [1]}, "'arguments' must be an object"),
        (CALL_TOOL, {"name": SEARCH_TOOLS, "arguments": {"query": "x"}}, "not 'search_tools'"),
        (SEARCH_TOOLS, {"query": "?!"}, "no word to search for"),
        (SEARCH_TOOLS, {}, "needs 'query'"),
        (SEARCH_TOOLS, {"query": "echo", "limit": MAX_LIMIT + 1}, "'limit' must be an integer from 1"),
        (SEARCH_TOOLS, {"query": "echo", "limit": 0}, "'limit' must be an integer from 1"),
    ],
)
async def test_bad_meta_tool_arguments_are_tool_errors_a_model_can_read(
    tool: str, arguments: dict[str, Any], says: str
) -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, tool_search=True) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert says in text_of(result)


async def test_the_index_follows_the_catalog_when_a_server_adds_a_tool() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}, tool_search=True) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        before = await client.call_tool(SEARCH_TOOLS, {"query": "added at run time"})
        catalog = proxy.registry.catalog
        await client.call_tool(CALL_TOOL, {"name": "alpha__grow"})  # adds `grown` and announces it
        with anyio.fail_after(5):
            while proxy.registry.catalog.route_tool("alpha__grown") is None:
                await anyio.sleep(0.01)
        after = found_names(await client.call_tool(SEARCH_TOOLS, {"query": "added at run time"}))
    assert "alpha__grown" not in found_names(before)
    assert proxy.registry.catalog is not catalog
    assert after[0] == "alpha__grown"


async def test_search_mode_and_the_full_list_never_share_a_cached_page() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        registry = proxy.registry
        catalog = registry.catalog
        full = [t.name for t in (await client.list_tools()).tools]
        assert [t.name for t in (await client.list_tools()).tools] == full  # cached now
        plain = registry.config
        # A settings change that leaves the catalog as it was: only the view differs.
        registry.config = plain.model_copy(update={"proxy": plain.proxy.model_copy(update={"tool_search": True})})
        searching = [t.name for t in (await client.list_tools()).tools]
        registry.config = plain
        full_again = [t.name for t in (await client.list_tools()).tools]
        assert registry.catalog is catalog
    assert "alpha__echo" in full
    assert searching == [SEARCH_TOOLS, CALL_TOOL]
    assert full_again == full


async def test_without_search_mode_the_meta_tool_names_are_unknown() -> None:
    async with (
        proxy_over({"alpha": build_upstream("alpha")}) as proxy,
        Client(proxy.server.server, mode="legacy", cache=None) as client,
    ):
        listed = [t.name for t in (await client.list_tools()).tools]
        with pytest.raises(Exception, match="search_tools"):
            await client.call_tool(SEARCH_TOOLS, {"query": "echo"})
    assert SEARCH_TOOLS not in listed


def write_config(tmp_path: Path) -> Path:
    """The bundled example servers over stdio, with tool search on and the files tools always listed."""
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    database = json.dumps(str(tmp_path / "shop.db"))
    tables = [
        f'[servers.{name}]\ntransport = "stdio"\ncommand = {python}\n'
        f'args = ["-m", "examples.servers.{name}"]\ncwd = {root}\nenv = {{ {env} }}\n'
        for name, env in (("database", f"DB_PATH = {database}"), ("github", ""), ("files", ""))
    ]
    path = tmp_path / "servers.toml"
    proxy = '[proxy]\nstartup_timeout = 20\ntool_search = true\ntool_search_always = ["files__*"]\n\n'
    path.write_text(proxy + "\n".join(tables))
    return path


@pytest.mark.parametrize("mode", ERAS)
async def test_a_proxy_process_finds_and_runs_a_tool_through_the_meta_tools(tmp_path: Path, mode: str) -> None:
    async with Client(stdio_client(stdio_proxy(write_config(tmp_path))), mode=mode, cache=None) as client:
        listed = [t.name for t in (await client.list_tools()).tools]
        search = await client.call_tool(SEARCH_TOOLS, {"query": "run a SQL query on the shop database"})
        rows = await client.call_tool(
            CALL_TOOL,
            {"name": "database__execute_query", "arguments": {"sql": "SELECT name FROM customers ORDER BY id LIMIT 1"}},
        )
    assert listed[:2] == [SEARCH_TOOLS, CALL_TOOL]
    assert len(listed) > 2 and all(name.startswith("files__") for name in listed[2:])
    assert "database__execute_query" in found_names(search)
    assert not rows.is_error, text_of(rows)
    assert rows.structured_content is not None and rows.structured_content["rows"]
