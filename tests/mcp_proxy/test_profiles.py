"""Profiles as a real process: /mcp/NAME and /sse/NAME, stdio --profile, token binding, reload."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.processes import REPO_ROOT, Spawned, child_env, proxy_listening, spawn

from .faults import list_changed_counter, wait_until
from .test_fronts import write_config as write_example_config

pytestmark = pytest.mark.anyio

FRONT_TOKEN = "front-token-for-tests"
CODE_TOKEN = "code-token-for-tests"
TOKENS = {"FRONT_TOKEN": FRONT_TOKEN, "CODE_TOKEN": CODE_TOKEN}
SELECT = "SELECT name FROM customers ORDER BY id LIMIT 2"
DATA_TOOLS = {"database__list_tables", "sql"}

PROFILES = """
[profiles.data]
servers = ["database"]
exclude_tools = ["describe_table"]

[profiles.data.tool.database__execute_query]
name = "sql"
description = "Run one read-only SQL query on the shop database."

[profiles.code]
servers = ["github", "files"]
tools = ["github__*", "read_file"]
tool_search = true
tokens = ["${CODE_TOKEN}"]
"""


def write_config(tmp_path: Path) -> Path:
    """The three example servers of the fronts' tests, a front token, and the two profiles above."""
    path = write_example_config(tmp_path)
    front = '[security]\nauth_tokens = ["${FRONT_TOKEN}"]\n\n'
    path.write_text(path.read_text().replace("[servers.", front + "[servers.", 1) + PROFILES)
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def base_of(proxy: Spawned) -> str:
    return str(proxy.ready["url"]).removesuffix("/mcp")


@asynccontextmanager
async def http_client(url: str, token: str, mode: str = "legacy", **client: Any) -> AsyncGenerator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, cache=None, **client) as session,
    ):
        yield session


@pytest.fixture
async def http_proxy(config_path: Path) -> AsyncGenerator[Spawned]:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "-t", "http", "-p", "0", "-c", str(config_path)]
    async with spawn([*args, "--log-format", "json"], ready=proxy_listening, env=TOKENS) as proxy:
        yield proxy


def text_of(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


async def assert_data_profile(client: Client) -> None:
    """The data profile: the database only, describe_table hidden, execute_query renamed and re-described."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == DATA_TOOLS
    assert tools["sql"].description == "Run one read-only SQL query on the shop database."
    rows = await client.call_tool("sql", {"sql": SELECT})
    assert rows.is_error is not True
    assert "Amara Okafor" in text_of(rows)
    with pytest.raises(MCPError, match="database__execute_query"):  # the old name is not the profile's
        await client.call_tool("database__execute_query", {"sql": SELECT})


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_profile_over_streamable_http_shows_only_its_view(http_proxy: Spawned, mode: str) -> None:
    async with http_client(f"{base_of(http_proxy)}/mcp/data", FRONT_TOKEN, mode) as client:
        await assert_data_profile(client)
        status = await client.read_resource("manifold://status")
    content = status.contents[0]
    assert isinstance(content, types.TextResourceContents)
    document = json.loads(content.text)
    assert document["profile"] == "data"
    assert document["profiles"] == ["code", "data"]
    assert document["catalog"]["tools"] == len(DATA_TOOLS)


def audit_events(proxy: Spawned) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in proxy.stderr_lines if line.startswith("{")]
    return [event for event in events if event.get("event") == "audit"]


async def test_audit_events_and_health_name_the_profile(http_proxy: Spawned) -> None:
    base = base_of(http_proxy)
    async with http_client(f"{base}/mcp/data", FRONT_TOKEN) as client:
        await client.call_tool("sql", {"sql": SELECT})
    async with http_client(f"{base}/mcp", FRONT_TOKEN) as client:
        await client.call_tool("database__execute_query", {"sql": SELECT})
    await wait_until(lambda: len(audit_events(http_proxy)) >= 2, deadline=20)
    calls = {(e["profile"], e["name"], e["server"]) for e in audit_events(http_proxy)}
    assert calls == {("data", "sql", "database"), ("default", "database__execute_query", "database")}
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {FRONT_TOKEN}"}) as http:
        detailed = (await http.get(f"{base}/health/detailed")).json()
    assert detailed["profiles"]["data"] == {"tools": 2, "resources": 4, "prompts": 1}
    assert detailed["profiles"]["code"]["tools"] == 4


async def test_a_profile_over_sse_shows_only_its_view(http_proxy: Spawned) -> None:
    auth = {"Authorization": f"Bearer {FRONT_TOKEN}"}
    async with Client(sse_client(f"{base_of(http_proxy)}/sse/data", headers=auth), mode="legacy", cache=None) as client:
        await assert_data_profile(client)


async def test_the_default_endpoint_keeps_the_whole_catalog(http_proxy: Spawned) -> None:
    async with http_client(f"{base_of(http_proxy)}/mcp", FRONT_TOKEN) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"database__execute_query", "database__describe_table", "github__search_code", "files__read_file"} <= names
    assert "sql" not in names and "search_tools" not in names


async def test_tool_search_is_set_per_profile(http_proxy: Spawned) -> None:
    async with http_client(f"{base_of(http_proxy)}/mcp/code", CODE_TOKEN) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        found = await client.call_tool("search_tools", {"query": "search code in a repository", "limit": 20})
        outside = await client.call_tool("call_tool", {"name": "database__list_tables", "arguments": {}})
        inside = await client.call_tool("files__read_file", {"path": "no/such/file.txt"})
    assert listed == {"search_tools", "call_tool"}
    assert found.structured_content is not None
    names = {tool["name"] for tool in found.structured_content["tools"]}
    assert "github__search_code" in names
    assert names <= {"github__search_code", "github__get_file", "github__list_issues", "files__read_file"}
    assert outside.is_error is True and "no tool is named" in text_of(outside)
    assert inside.is_error is True and "no tool is named" not in text_of(inside)  # routed: the file is missing


async def post_initialize(url: str, token: str | None) -> httpx2.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30)) as http:
        return await http.post(url, json=body, headers=headers)


async def test_tokens_reach_only_the_endpoints_they_are_bound_to(http_proxy: Spawned) -> None:
    base = base_of(http_proxy)
    statuses = {
        (path, who): (await post_initialize(f"{base}{path}", token)).status_code
        for path in ("/mcp", "/mcp/data", "/mcp/code")
        for who, token in (("front", FRONT_TOKEN), ("code", CODE_TOKEN), ("none", None))
    }
    assert statuses == {
        ("/mcp", "front"): 200,
        ("/mcp", "code"): 403,  # bound to a profile, not one of the front's own tokens
        ("/mcp", "none"): 401,
        ("/mcp/data", "front"): 200,
        ("/mcp/data", "code"): 403,
        ("/mcp/data", "none"): 401,
        ("/mcp/code", "front"): 403,  # code is bound: only its own token reaches it
        ("/mcp/code", "code"): 200,
        ("/mcp/code", "none"): 401,
    }
    refused = await post_initialize(f"{base}/mcp", CODE_TOKEN)
    assert "/mcp/code" in refused.json()["error_description"]
    assert CODE_TOKEN not in refused.text
    unknown = await post_initialize(f"{base}/mcp/nope", FRONT_TOKEN)
    assert unknown.status_code == 404
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {CODE_TOKEN}"}) as http:
        sse_refused = await http.get(f"{base}/sse")
    assert sse_refused.status_code == 403


async def test_a_reload_tells_only_the_changed_profile(http_proxy: Spawned, config_path: Path) -> None:
    base = base_of(http_proxy)
    data_told, on_data = list_changed_counter()
    code_told, on_code = list_changed_counter()
    default_told, on_default = list_changed_counter()
    async with (
        http_client(f"{base}/mcp/data", FRONT_TOKEN, message_handler=on_data) as data,
        http_client(f"{base}/mcp/code", CODE_TOKEN, message_handler=on_code) as code,
        http_client(f"{base}/mcp", FRONT_TOKEN, message_handler=on_default) as default,
    ):
        assert {tool.name for tool in (await data.list_tools()).tools} == DATA_TOOLS
        await code.list_tools()
        await default.list_tools()
        config_path.write_text(config_path.read_text().replace('exclude_tools = ["describe_table"]', ""))
        await wait_until(lambda: data_told[0] >= 1, deadline=20)
        assert {tool.name for tool in (await data.list_tools()).tools} == {*DATA_TOOLS, "database__describe_table"}
        await code.list_tools()  # a round trip on each of the other sessions, after the reload was announced
        await default.list_tools()
    assert code_told == [0]
    assert default_told == [0]


async def test_stdio_serves_one_profile(config_path: Path) -> None:
    params = stdio_proxy_for(config_path, "data")
    async with Client(stdio_client(params), mode="legacy", cache=None) as client:
        await assert_data_profile(client)


async def test_stdio_refuses_an_unknown_profile(config_path: Path) -> None:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--config", str(config_path), "--profile", "nope"]
    with anyio.fail_after(60):
        result = await anyio.run_process(args, env=child_env(TOKENS), cwd=REPO_ROOT, check=False)
    assert result.returncode != 0
    message = result.stderr.decode()
    assert "--profile 'nope'" in message and "the profiles are: code, data" in message


def stdio_proxy_for(config: Path, profile: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config), "--profile", profile],
        env=child_env(TOKENS),
        cwd=REPO_ROOT,
    )
