"""The shared command line and transports, including real child processes on every transport."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from examples.servers._serve import (
    DEFAULT_PORT,
    ServeOptions,
    format_ready_line,
    parse_args,
    parse_ready_line,
    public_url,
)
from tests.examples.servers.running import REPO_ROOT, child_environment, running_example
from tests.examples.servers.support import ERAS, text_of

SELECT_CHEAPEST = "SELECT name FROM products ORDER BY price_cents LIMIT 1"


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_command_line_defaults_to_stdio_on_localhost() -> None:
    assert parse_args([], prog="x", description="x") == ServeOptions("stdio", "127.0.0.1", DEFAULT_PORT, "INFO")
    assert parse_args(["--transport", "http", "--port", "0", "--host", "::1"], prog="x", description="x") == (
        ServeOptions("http", "::1", 0, "INFO")
    )


@pytest.mark.parametrize("argv", [["--transport", "websocket"], ["--port", "70000"], ["--port", "-1"]])
def test_the_command_line_rejects_unknown_transports_and_ports(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv, prog="x", description="x")


def test_the_ready_line_round_trips_through_its_parser() -> None:
    line = format_ready_line(transport="http", url="http://127.0.0.1:1234/mcp", pid=42)
    assert line == "MANIFOLD_EXAMPLE_READY transport=http url=http://127.0.0.1:1234/mcp pid=42"
    assert parse_ready_line(line + "\n") == {"transport": "http", "url": "http://127.0.0.1:1234/mcp", "pid": "42"}
    assert parse_ready_line("INFO uvicorn: started") is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080/mcp"),
        ("0.0.0.0", "http://127.0.0.1:8080/mcp"),
        ("::", "http://[::1]:8080/mcp"),
        ("::1", "http://[::1]:8080/mcp"),
        ("localhost", "http://localhost:8080/mcp"),
    ],
)
def test_the_announced_url_is_reachable_from_this_machine(host: str, expected: str) -> None:
    assert public_url(host, 8080, "/mcp") == expected


@pytest.mark.anyio
async def test_the_database_over_stdio_answers_in_both_eras_and_the_child_exits(tmp_path: Path) -> None:
    errlog_path = tmp_path / "stderr.log"
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "examples.servers.database", "--log-level", "WARNING"],
        env=child_environment({"DB_PATH": str(tmp_path / "shop.db")}),
        cwd=REPO_ROOT,
    )
    with errlog_path.open("w") as errlog:
        for mode in ERAS:
            async with Client(stdio_client(parameters, errlog=errlog), mode=mode, cache=None) as client:
                result = await client.call_tool("execute_query", {"sql": SELECT_CHEAPEST})
                assert not result.is_error, text_of(result)
                assert result.structured_content is not None
                assert result.structured_content["rows"] == [["HDMI Cable 2m"]]
    ready = [fields for line in errlog_path.read_text().splitlines() if (fields := parse_ready_line(line))]
    assert [fields["transport"] for fields in ready] == ["stdio", "stdio"]
    assert not [fields["pid"] for fields in ready if _is_alive(int(fields["pid"]))]


@pytest.mark.anyio
@pytest.mark.parametrize(("transport", "path"), [("sse", "/sse"), ("http", "/mcp")])
async def test_the_database_over_http_transports_answers_in_both_eras_and_the_child_exits(
    tmp_path: Path, transport: str, path: str
) -> None:
    async with running_example("database", transport, env={"DB_PATH": str(tmp_path / "shop.db")}) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith(path)
        for mode in ERAS:
            connection = sse_client(server.url) if transport == "sse" else streamable_http_client(server.url)
            async with Client(connection, mode=mode, cache=None) as client:
                assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
                result = await client.call_tool("execute_query", {"sql": SELECT_CHEAPEST})
            assert not result.is_error, text_of(result)
            assert result.structured_content is not None
            assert result.structured_content["rows"] == [["HDMI Cable 2m"]]
    assert server.process.returncode is not None
    assert not _is_alive(server.process.pid)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "tool"), [("database", "list_tables"), ("github", "search_code"), ("files", "list_directory")]
)
async def test_every_example_server_serves_streamable_http(tmp_path: Path, name: str, tool: str) -> None:
    async with running_example(name, "http", env={"DB_PATH": str(tmp_path / "shop.db")}) as server:
        for mode in ERAS:
            async with Client(streamable_http_client(server.url), mode=mode, cache=None) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
            assert tool in tools
    assert server.process.returncode is not None
