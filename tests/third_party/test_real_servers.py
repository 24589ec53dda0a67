"""Servers nobody here wrote, behind the proxy: one call each, and what their start-up logs relay.

One proxy for the session (`real_servers_proxy` in `conftest.py`, HTTP front) has six real
servers over stdio, each with the default `protocol = "auto"`, so the proxy probes each one's
era before it settles on the handshake era they all speak:

* on the TypeScript SDK 1.x (npm): `@modelcontextprotocol/server-everything`,
  `@modelcontextprotocol/server-filesystem` (started without directories) and
  `@modelcontextprotocol/server-memory`;
* on the Python SDK 1.x (PyPI, each in its own venv): `mcp-server-time`, `mcp-server-git` (on a
  repository the session makes) and `mcp-server-fetch` (reading a page served on 127.0.0.1).

The filesystem server's calls need the client's roots, which it asks for right after the
handshake; those tests are in `test_unsolicited_requests.py`. The start-up log checks of the
Python servers are in `test_quiet_probing.py`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from .harness import PROBE_DUMP, RunningProxy, assert_quiet_start
from .workspaces import LOOPBACK_TEXT, UNTRACKED_FILE

pytestmark = pytest.mark.anyio

SERVERS = ["everything", "filesystem", "memory", "time", "git", "fetch"]
NODE_SERVERS = ["everything", "filesystem", "memory"]
HANDSHAKE_ERA = "2025-11-25"


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def call(proxy: RunningProxy, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
    async with Client(proxy.url, mode="legacy", cache=None) as client:
        result = await client.call_tool(tool, arguments)
    if result.is_error:
        server = tool.split("__", 1)[0]
        logged = [json.dumps(event) for event in proxy.events() if event.get("server") == server]
        tail = "\n".join(line for line in logged[-15:] if not PROBE_DUMP.search(line))
        raise AssertionError(f"{tool} failed: {text_of(result)}\nthe proxy's last log lines about {server}:\n{tail}")
    return result


def test_every_real_server_is_ready_in_the_handshake_era(real_servers_proxy: RunningProxy) -> None:
    ready = {
        event["server"]: event.get("protocol")
        for event in real_servers_proxy.events()
        if event.get("event") == "upstream_ready"
    }
    assert ready == dict.fromkeys(SERVERS, HANDSHAKE_ERA)


async def test_server_everything_answers_a_call(real_servers_proxy: RunningProxy) -> None:
    result = await call(real_servers_proxy, "everything__echo", {"message": "through the proxy"})
    assert text_of(result) == "Echo: through the proxy"


async def test_the_memory_server_stores_an_entity_and_opens_it_again(real_servers_proxy: RunningProxy) -> None:
    entity = {"name": "Manifold", "entityType": "project", "observations": ["an aggregating MCP proxy"]}
    created = await call(real_servers_proxy, "memory__create_entities", {"entities": [entity]})
    opened = await call(real_servers_proxy, "memory__open_nodes", {"names": ["Manifold"]})
    assert created.structured_content == {"entities": [entity]}
    assert opened.structured_content == {"entities": [entity], "relations": []}


async def test_the_time_server_tells_the_time_in_a_timezone(real_servers_proxy: RunningProxy) -> None:
    result = await call(real_servers_proxy, "time__get_current_time", {"timezone": "Asia/Tokyo"})
    answer = json.loads(text_of(result))
    assert answer["timezone"] == "Asia/Tokyo"
    assert answer["datetime"].endswith("+09:00")


async def test_the_git_server_reports_the_status_of_a_repository(
    real_servers_proxy: RunningProxy, git_repository: Path
) -> None:
    result = await call(real_servers_proxy, "git__git_status", {"repo_path": str(git_repository)})
    status = text_of(result)
    assert "On branch main" in status
    assert UNTRACKED_FILE in status


async def test_the_fetch_server_reads_a_loopback_page(real_servers_proxy: RunningProxy, loopback_site: str) -> None:
    result = await call(real_servers_proxy, "fetch__fetch", {"url": loopback_site})
    page = text_of(result)
    assert loopback_site in page
    assert LOOPBACK_TEXT in page


@pytest.mark.parametrize("server", NODE_SERVERS)
def test_the_start_up_log_of_a_typescript_server_relays_no_probe_dump(
    real_servers_proxy: RunningProxy, server: str
) -> None:
    assert_quiet_start(real_servers_proxy, server)
