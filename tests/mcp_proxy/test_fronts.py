"""The proxy as a real process: every front transport, both protocol eras, the bundled example servers."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client

from tests.processes import REPO_ROOT, Spawned, child_env, proxy_listening, spawn, stdio_proxy, wait_until_gone

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
SELECT = "SELECT name FROM customers ORDER BY id LIMIT 2"


def write_config(tmp_path: Path) -> Path:
    """A servers.toml with the three example servers over stdio, using this interpreter."""
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    env = {"database": f"DB_PATH = {json.dumps(str(tmp_path / 'shop.db'))}"}
    tables = [
        f'[servers.{name}]\ntransport = "stdio"\ncommand = {python}\n'
        f'args = ["-m", "examples.servers.{name}"]\ncwd = {root}\nenv = {{ {env.get(name, "")} }}\n'
        for name in ("database", "github", "files")
    ]
    path = tmp_path / "servers.toml"
    path.write_text("[proxy]\nstartup_timeout = 20\n\n" + "\n".join(tables))
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
async def http_proxy(config_path: Path) -> AsyncGenerator[Spawned]:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config_path), "--log-format", "json"]
    async with spawn(args, ready=proxy_listening) as proxy:
        yield proxy


async def assert_database_works(client: Client) -> None:
    """The done-when check: list tools with origins, run a SELECT, get a clear refusal for DROP."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"database__execute_query", "github__search_code", "files__read_file"} <= set(tools)
    assert tools["database__execute_query"].meta is not None
    rows = await client.call_tool("database__execute_query", {"sql": SELECT})
    assert rows.is_error is not True
    assert isinstance(rows.content[0], types.TextContent)
    assert "Amara Okafor" in rows.content[0].text
    refused = await client.call_tool("database__execute_query", {"sql": "DROP TABLE customers"})
    assert refused.is_error is True
    assert isinstance(refused.content[0], types.TextContent)
    assert "read-only" in refused.content[0].text


@pytest.mark.parametrize("mode", ERAS)
async def test_streamable_http_front_serves_the_example_servers(http_proxy: Spawned, mode: str) -> None:
    url = http_proxy.ready["url"]
    async with Client(url, mode=mode, cache=None) as client:
        await assert_database_works(client)
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")


@pytest.mark.parametrize("mode", ERAS)
async def test_sse_front_serves_the_example_servers(http_proxy: Spawned, mode: str) -> None:
    async with Client(sse_client(http_proxy.ready["sse"]), mode=mode, cache=None) as client:
        await assert_database_works(client)


async def test_health_reports_every_server_ready(http_proxy: Spawned) -> None:
    base = http_proxy.ready["url"].removesuffix("/mcp")
    async with httpx2.AsyncClient(base_url=base) as http:
        health = (await http.get("/health")).json()
        detailed = (await http.get("/health/detailed")).json()
        live = await http.get("/healthz")
    assert health == {"status": "healthy", "mode": "multi", "servers": 3, "configured": 3}
    assert {s["name"]: s["state"] for s in detailed["servers"]} == {
        "database": "ready",
        "github": "ready",
        "files": "ready",
    }
    assert detailed["servers"][0]["counts"]["tools"] == 3
    assert live.status_code == 200


async def test_mcp_routes_refuse_a_foreign_host_or_origin(http_proxy: Spawned) -> None:
    url = http_proxy.ready["url"]
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient() as http:
        foreign_host = await http.post(url, json=body, headers={**headers, "Host": "evil.example"})
        foreign_origin = await http.post(url, json=body, headers={**headers, "Origin": "http://evil.example"})
        sse_foreign = await http.post(
            url.replace("/mcp", "/messages/?session_id=00"), json=body, headers={**headers, "Host": "evil.example"}
        )
    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403
    assert sse_foreign.status_code == 421


@pytest.mark.parametrize("mode", ERAS)
async def test_stdio_front_serves_the_example_servers(config_path: Path, mode: str) -> None:
    params = stdio_proxy(config_path)
    async with Client(stdio_client(params), mode=mode, cache=None) as client:
        await assert_database_works(client)


async def test_stdio_front_writes_only_json_rpc_to_stdout(config_path: Path) -> None:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config_path)]
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "database__execute_query", "arguments": {"sql": SELECT}},
        },
    ]
    async with spawn(args) as proxy:
        stdin, stdout = proxy.process.stdin, proxy.process.stdout
        assert stdin is not None and stdout is not None
        await stdin.send(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
        lines: list[str] = []
        buffer = b""
        with anyio.fail_after(30):
            while not any('"id":3' in line.replace(" ", "") for line in lines):
                buffer += await stdout.receive()
                *complete, buffer = buffer.split(b"\n")
                lines.extend(raw.decode() for raw in complete)
        await stdin.aclose()
        with anyio.fail_after(15):
            await proxy.process.wait()
        children = proxy.example_pids()
    messages = [json.loads(line) for line in lines]
    assert all(m.get("jsonrpc") == "2.0" for m in messages)
    answered = {m["id"]: m for m in messages if "id" in m}
    assert "Amara Okafor" in answered[3]["result"]["content"][0]["text"]
    assert len(children) == 4  # three servers, and the database's session in this client's (handshake) era
    assert await wait_until_gone(children) == []


async def test_no_upstream_child_outlives_the_http_proxy(config_path: Path) -> None:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config_path), "--log-format", "json"]
    async with spawn(args, ready=proxy_listening) as proxy:
        async with Client(proxy.ready["url"], cache=None) as client:
            await client.list_tools()
        children = proxy.example_pids()
    assert proxy.process.returncode is not None
    assert len(children) == 3
    assert await wait_until_gone(children) == []


async def test_sigterm_stops_the_stdio_front_while_its_client_keeps_stdin_open(config_path: Path) -> None:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config_path)]
    async with spawn(args) as proxy:
        with anyio.fail_after(30):
            while len(proxy.example_pids()) < 3:  # every child up, so shutdown has work to do
                await anyio.sleep(0.05)
        children = proxy.example_pids()
        proxy.process.send_signal(signal.SIGTERM)  # stdin stays open: the client did not go away
        with anyio.fail_after(15):
            code = await proxy.process.wait()
    assert code == 0
    assert await wait_until_gone(children) == []


# ---- the stdio front at the end of its input: everything read is answered -----------------------

STDIN_KINDS = ["pipe", "file"]  # a pipe is served on the event loop, a regular file by a thread
GARBAGE = [
    b"{not json",
    b"[1, 2",
    b"\xff\xfe not even UTF-8",
    b'"a string"',
    b"42",
    b"null",
    b"[]",
    b'{"jsonrpc": "2.0"}',
    b'{"id": 7}',
    b'{"jsonrpc": "2.0", "method": 3}',
]
NOT_JSON = 3  # the first three garbage lines are no JSON at all: parse errors; the rest invalid requests


def line(message: dict[str, object]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def opening_lines() -> bytes:
    """A handshake-era client's opening, as written by hand: initialize, then initialized."""
    client = {"name": "printf", "version": "0"}
    initialize = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client}
    return line({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": initialize}) + line(
        {"jsonrpc": "2.0", "method": "notifications/initialized"}
    )


async def answers_until_the_end_of_input(config_path: Path, lines: bytes, stdin: str, tmp_path: Path) -> list[Any]:
    """Run the stdio front on `lines` (from a pipe or a file) until it exits by itself; every line it wrote."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config_path)]
    with anyio.fail_after(60):
        if stdin == "pipe":
            done = await anyio.run_process(args, input=lines, env=child_env(), cwd=REPO_ROOT)
        else:
            requests = tmp_path / "requests.jsonl"
            requests.write_bytes(lines)
            with requests.open("rb") as source:
                done = await anyio.run_process(args, stdin=source, env=child_env(), cwd=REPO_ROOT)
    return [json.loads(answer) for answer in done.stdout.splitlines()]


@pytest.mark.parametrize("stdin", STDIN_KINDS)
async def test_requests_written_before_stdin_closes_are_all_answered(
    config_path: Path, stdin: str, tmp_path: Path
) -> None:
    # printf '...initialize...\n...ping...\n...tools/list...\n' | mcp-proxy serve --transport stdio
    lines = opening_lines() + line({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    lines += line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})

    answers = await answers_until_the_end_of_input(config_path, lines, stdin, tmp_path)

    assert [answer["id"] for answer in answers] == [0, 1, 2]
    assert answers[1]["result"] == {}
    assert "database__execute_query" in {tool["name"] for tool in answers[2]["result"]["tools"]}


@pytest.mark.parametrize("stdin", STDIN_KINDS)
async def test_every_ping_and_every_garbage_line_between_them_get_an_answer(
    config_path: Path, stdin: str, tmp_path: Path
) -> None:
    pings, garbage_per_ping = 100, 5
    lines = opening_lines()
    for ping in range(1, pings + 1):
        for n in range(garbage_per_ping):
            lines += GARBAGE[(ping * garbage_per_ping + n) % len(GARBAGE)] + b"\n"
        lines += line({"jsonrpc": "2.0", "id": ping, "method": "ping"})

    answers = await answers_until_the_end_of_input(config_path, lines, stdin, tmp_path)

    pinged = sorted(answer["id"] for answer in answers if answer.get("result") == {})
    errors = [answer for answer in answers if "error" in answer]
    assert pinged == list(range(1, pings + 1))
    assert len(errors) == pings * garbage_per_ping
    assert all(error["id"] is None for error in errors)
    codes = [error["error"]["code"] for error in errors]
    expected_parse_errors = sum(
        (ping * garbage_per_ping + n) % len(GARBAGE) < NOT_JSON
        for ping in range(1, pings + 1)
        for n in range(garbage_per_ping)
    )
    assert codes.count(types.PARSE_ERROR) == expected_parse_errors
    assert codes.count(types.INVALID_REQUEST) == len(errors) - expected_parse_errors
    assert len(answers) == 1 + pings + len(errors)  # the initialize answer, and nothing else
