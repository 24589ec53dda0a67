"""The proxy in-process over real upstream transports: the example database on stdio, SSE and
streamable HTTP, in every upstream protocol setting and both downstream eras; plus upstreams that
are dead at start-up and one that dies while the proxy runs."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client

from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.upstream.supervisor import UpstreamState
from tests.examples.servers.running import running_example
from tests.processes import REPO_ROOT, pid_alive

pytestmark = pytest.mark.anyio

DOWNSTREAM_ERAS = ("legacy", "auto")
DOWNSTREAM_VERSION = {"legacy": "2025-11-25", "auto": "2026-07-28"}
# What each upstream `protocol` setting negotiates with a 2.x server, which serves both eras.
UPSTREAM_VERSION = {"legacy": "2025-11-25", "auto": "2026-07-28", "2026-07-28": "2026-07-28"}
SELECT = "SELECT name FROM customers ORDER BY id LIMIT 2"
CUSTOMERS_URI = "schema://database/shop/customers"
TABLE_TEMPLATE = "schema://database/shop/{table}"
STARTUP_TIMEOUT = 20.0
RECONNECT_DEADLINE = 20.0
DATABASE_MODULE = "examples.servers.database"
MISSING_COMMAND = "manifold-test-command-that-does-not-exist"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so the example servers below can be shared by every test of this module."""
    return "asyncio"


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The file stem names the resources: schema://shop/<table> upstream.
    return tmp_path_factory.mktemp("database") / "shop.db"


@pytest.fixture(scope="module")
async def remote_urls(db_path: Path) -> AsyncGenerator[dict[str, str]]:
    """The example database served over SSE and over streamable HTTP, on ephemeral ports."""
    env = {"DB_PATH": str(db_path)}
    async with (
        running_example("database", "sse", env=env) as sse,
        running_example("database", "http", env=env) as http,
    ):
        yield {"sse": sse.url, "http": http.url}


def stdio_database(db_path: Path) -> dict[str, Any]:
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", DATABASE_MODULE],
        "cwd": str(REPO_ROOT),
        "env": {"DB_PATH": str(db_path)},
    }


def proxy_config(servers: dict[str, dict[str, Any]]) -> ProxyConfig:
    data = {"proxy": {"startup_timeout": STARTUP_TIMEOUT}, "servers": servers}
    return parse_config_data(data, "test.toml", environ={})


def text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def server_status(proxy: Proxy, name: str) -> dict[str, Any]:
    return next(s for s in proxy.registry.status()["servers"] if s["name"] == name)


async def assert_database_usable(client: Client) -> None:
    """Tools, a SELECT, a refused DROP, a resource by its rewritten URI, a template and the prompt."""
    tools = {tool.name for tool in (await client.list_tools()).tools}
    assert tools == {"database__list_tables", "database__describe_table", "database__execute_query"}

    rows = await client.call_tool("database__execute_query", {"sql": SELECT})
    assert rows.is_error is not True
    assert "Amara Okafor" in text(rows)
    assert rows.structured_content is not None and rows.structured_content["row_count"] == 2

    refused = await client.call_tool("database__execute_query", {"sql": "DROP TABLE customers"})
    assert refused.is_error is True
    assert "read-only" in text(refused)

    resources = {resource.uri for resource in (await client.list_resources()).resources}
    assert CUSTOMERS_URI in resources
    read = await client.read_resource(CUSTOMERS_URI)
    [contents] = read.contents
    assert isinstance(contents, types.TextResourceContents)
    assert contents.uri == CUSTOMERS_URI
    assert "CREATE TABLE customers" in contents.text

    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [TABLE_TEMPLATE]

    prompt = await client.get_prompt("database__query_helper", {"question": "Who spent the most?"})
    message = prompt.messages[0].content
    assert isinstance(message, types.TextContent)
    assert "Question: Who spent the most?" in message.text


@pytest.mark.parametrize("protocol", UPSTREAM_VERSION)
@pytest.mark.parametrize("transport", ["stdio", "sse", "http"])
async def test_the_database_is_fully_usable_over_each_upstream_transport_and_protocol_in_both_eras(
    transport: str, protocol: str, db_path: Path, remote_urls: dict[str, str]
) -> None:
    server = (
        stdio_database(db_path) if transport == "stdio" else {"transport": transport, "url": remote_urls[transport]}
    )
    config = proxy_config({"database": {**server, "protocol": protocol}})
    async with running_proxy(config) as proxy:
        status = server_status(proxy, "database")
        assert status["state"] == "ready", status
        assert status["transport"] == transport
        assert status["protocol"] == UPSTREAM_VERSION[protocol]
        assert status["server_info"]["name"] == "database"
        for era in DOWNSTREAM_ERAS:
            async with Client(proxy.server.server, mode=era, cache=None) as client:
                assert client.protocol_version == DOWNSTREAM_VERSION[era]
                await assert_database_usable(client)


@contextmanager
def refusing_port() -> Iterator[socket.socket]:
    """A loopback socket bound and never listening: connections to its port are refused while it
    is held. Holding it (rather than picking a free port and letting it go) keeps the port from
    being taken meanwhile, also as the source port of the proxy's own connection attempts, which
    on a free ephemeral port can connect to themselves. Close it early to let a server bind there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock


async def test_dead_upstreams_at_start_up_do_not_delay_or_break_the_others(db_path: Path) -> None:
    with refusing_port() as refusing:
        await _dead_upstreams_do_not_break_the_others(db_path, refusing.getsockname()[1])


async def _dead_upstreams_do_not_break_the_others(db_path: Path, port: int) -> None:
    config = proxy_config(
        {
            "database": stdio_database(db_path),
            "missing": {"transport": "stdio", "command": MISSING_COMMAND},
            "refused": {"transport": "http", "url": f"http://127.0.0.1:{port}/mcp"},
            "refused-sse": {"transport": "sse", "url": f"http://127.0.0.1:{port}/sse"},
        }
    )
    started = time.monotonic()
    async with running_proxy(config) as proxy:
        assert time.monotonic() - started < STARTUP_TIMEOUT
        assert server_status(proxy, "database")["state"] == "ready"
        missing = server_status(proxy, "missing")
        assert missing["state"] == "down"
        assert MISSING_COMMAND in missing["last_error"]
        assert "not found" in missing["last_error"]
        for name in ("refused", "refused-sse"):
            broken = server_status(proxy, name)
            assert broken["state"] == "down"
            assert f"cannot connect to http://127.0.0.1:{port}/" in broken["last_error"], broken["last_error"]
            assert "connection refused" in broken["last_error"]
        for era in DOWNSTREAM_ERAS:
            async with Client(proxy.server.server, mode=era, cache=None) as client:
                await assert_database_usable(client)


def database_children(db_path: Path) -> list[int]:
    """Pids of this process's stdio children running the example database on `db_path`."""
    me = str(os.getpid())
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if parent == me and DATABASE_MODULE.encode() in argv and f"DB_PATH={db_path}".encode() in environ:
            found.append(int(entry.name))
    return found


async def wait_for_reconnect(proxy: Proxy, name: str, previous_connection: float) -> None:
    """Poll until the upstream is ready again on a connection made after `previous_connection`."""
    with anyio.fail_after(RECONNECT_DEADLINE):
        while True:
            status = server_status(proxy, name)
            if status["state"] == UpstreamState.READY and status["connected_at"] != previous_connection:
                return
            await anyio.sleep(0.05)


@pytest.mark.parametrize("era", DOWNSTREAM_ERAS)
async def test_an_upstream_that_dies_fails_calls_clearly_and_is_reconnected(
    era: str, tmp_path: Path, db_path: Path
) -> None:
    own_db = tmp_path / "shop.db"  # a path of its own, so its child is told apart from any other
    config = proxy_config({"database": stdio_database(own_db)})
    async with running_proxy(config) as proxy, Client(proxy.server.server, mode=era, cache=None) as client:
        [child] = database_children(own_db)
        first_connection = server_status(proxy, "database")["connected_at"]
        os.kill(child, signal.SIGKILL)

        with anyio.fail_after(RECONNECT_DEADLINE):
            failed = await client.call_tool("database__execute_query", {"sql": SELECT})
        assert failed.is_error is True
        assert "server 'database'" in text(failed)

        await wait_for_reconnect(proxy, "database", first_connection)
        assert not pid_alive(child)
        # A session in the client's era that the failed call may have opened ends with the dead connection.
        with anyio.fail_after(RECONNECT_DEADLINE):
            while len(database_children(own_db)) != 1:
                await anyio.sleep(0.05)
        [replacement] = database_children(own_db)
        assert replacement != child
        status = server_status(proxy, "database")
        assert status["last_error"] is None
        again = await client.call_tool("database__execute_query", {"sql": SELECT})
        assert again.is_error is not True
        assert "Amara Okafor" in text(again)


async def test_a_call_the_upstream_does_not_answer_in_time_fails_with_the_server_and_its_timeout(
    tmp_path: Path,
) -> None:
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    config = proxy_config({"database": {**stdio_database(tmp_path / "shop.db"), "timeout": 0.5}})
    async with running_proxy(config) as proxy, Client(proxy.server.server, cache=None) as client:
        with anyio.fail_after(RECONNECT_DEADLINE):
            result = await client.call_tool("database__execute_query", {"sql": endless})
    assert result.is_error is True
    assert "server 'database' did not answer within 0.5 s" in text(result)
