"""The lean relay, through real processes: the same answers with it on and off, and straight from the server.

Each example server runs as a stdio child of a stdio proxy process, exposed with `prefix = ""`,
and the parity observations (`test_parity.py`: every tool with good and bad arguments, every
resource and template, the prompts) are taken three times: from the server launched directly
over stdio, through the proxy with the relay on, and through the proxy with
`MCP_PROXY_FAST_PATH=0`. All three must be equal, and the proxy's metrics must show that the
relay answered the calls when on, and nothing when off.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.processes import REPO_ROOT, child_env, proxy_listening, spawn

from .http_support import INITIALIZE, MCP_HEADERS
from .test_interaction import interactive_client
from .test_parity import SURFACES, Observations, observe

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
LISTENER_DEADLINE = 30.0


def _server_env(name: str, tmp: Path) -> dict[str, str]:
    return {"DB_PATH": str(tmp / "shop.db")} if name == "database" else {}


def _config(name: str, tmp: Path, mode: str) -> Path:
    env = ", ".join(f"{key} = {json.dumps(value)}" for key, value in _server_env(name, tmp).items())
    protocol = "legacy" if mode == "legacy" else "auto"
    path = tmp / "servers.toml"
    path.write_text(
        "[proxy]\nstartup_timeout = 20\n\n"
        f'[servers.{name}]\ntransport = "stdio"\ncommand = {json.dumps(sys.executable)}\n'
        f'args = ["-m", "examples.servers.{name}"]\ncwd = {json.dumps(str(REPO_ROOT))}\n'
        f'prefix = ""\nprotocol = "{protocol}"\nenv = {{ {env} }}\n'
    )
    return path


async def _metrics_url(errlog: Path) -> str:
    with anyio.fail_after(LISTENER_DEADLINE):
        while True:
            found = re.search(
                r'"health_listening".*?"url": "([^"]+)"|"url": "([^"]+)".*?"health_listening"', errlog.read_text()
            )
            if found:
                return found.group(1) or found.group(2)
            await anyio.sleep(0.05)


@asynccontextmanager
async def _proxied(name: str, tmp: Path, mode: str, fast_path: bool) -> AsyncGenerator[tuple[Client, Path]]:
    config = _config(name, tmp, mode)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_proxy", "serve", "--transport", "stdio", "--http-port", "0", "--config", str(config)],
        env=child_env({"MCP_PROXY_FAST_PATH": "1" if fast_path else "0", "MCP_PROXY_LOG_FORMAT": "json"}),
        cwd=REPO_ROOT,
    )
    errlog = tmp / "proxy.log"
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err), mode=mode, cache=None) as client:
            yield client, errlog


async def _relayed_calls(errlog: Path) -> float:
    """How many requests the stdio proxy's relay answered, from its side listener's metrics."""
    return await relayed_at(await _metrics_url(errlog))


async def relayed_at(url: str) -> float:
    """How many requests the relay of the proxy serving `url` answered, from its metrics."""
    async with httpx2.AsyncClient(base_url=url) as http:
        text = (await http.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("manifold_relayed_requests_total{")
    )


async def _direct(name: str, tmp: Path, mode: str) -> Observations:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "examples.servers." + name],
        env=child_env(_server_env(name, tmp)),
        cwd=REPO_ROOT,
    )
    async with Client(stdio_client(params), mode=mode, cache=None) as client:
        return await observe(client, SURFACES[name])


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("name", list(SURFACES))
async def test_the_relay_answers_as_the_sdk_path_and_the_server_itself_do(name: str, mode: str, tmp_path: Path) -> None:
    surface = SURFACES[name]
    observed: dict[str, Observations] = {}
    relayed: dict[str, float] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        async with _proxied(name, run, mode, fast) as (client, errlog):
            observed[label] = await observe(client, surface)
            relayed[label] = await _relayed_calls(errlog)
    direct_dir = tmp_path / "direct"
    direct_dir.mkdir()
    direct = await _direct(name, direct_dir, mode)
    assert observed["relay"] == observed["sdk"]
    # The proxy lists in name (and URI) order, and results carry its own identity stamp on
    # 2026-07-28 (`call_results`); everything else is as the server said it.
    assert observed["relay"] == replace(
        direct,
        tools=sorted(direct.tools, key=lambda tool: tool["name"]),
        resources=sorted(direct.resources, key=lambda resource: resource["uri"]),
        call_results=observed["relay"].call_results,
    )
    assert relayed["sdk"] == 0
    # Every tool call and prompt of the surface, and the lists, went over the relay.
    assert relayed["relay"] >= len(surface.tools) + len(surface.prompts)


@asynccontextmanager
async def http_proxy(config: Path, fast_path: bool) -> AsyncGenerator[str]:
    """The URL of `/mcp` on an HTTP proxy process serving `config`, the relay on or off."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    env = {"MCP_PROXY_FAST_PATH": "1" if fast_path else "0"}
    async with spawn(args, ready=proxy_listening, env=env) as proxy:
        yield proxy.ready["url"]


async def _over_http(name: str, tmp: Path, fast_path: bool, mode: str) -> tuple[Observations, float]:
    async with http_proxy(_config(name, tmp, mode), fast_path) as url:
        async with Client(url, mode=mode, cache=None) as client:
            observed = await observe(client, SURFACES[name])
        return observed, await relayed_at(url.removesuffix("/mcp"))


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("name", list(SURFACES))
async def test_a_client_over_http_gets_the_same_answers_from_the_relay(name: str, mode: str, tmp_path: Path) -> None:
    # "legacy": a handshake-era client, whose requests ride its session; "auto": 2026-07-28.
    observed: dict[str, Observations] = {}
    relayed: dict[str, float] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        observed[label], relayed[label] = await _over_http(name, run, fast, mode)
    assert observed["relay"] == observed["sdk"]
    assert relayed["sdk"] == 0
    surface = SURFACES[name]
    assert relayed["relay"] >= len(surface.tools) + len(surface.prompts)


# ---- a handshake-era session over HTTP: progress, logs, questions, cancellation --------------

INTERACTIVE_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("echo", {"message": "hi"}),
    ("slow", {"steps": 3}),
    ("chatty", {}),
    ("fail", {}),
    ("stats", {}),
    ("ask_llm", {"prompt": "hi"}),
    ("ask_user", {}),
    ("show_roots", {}),
    ("no_such_tool", {}),
]


def _interactive_config(tmp: Path) -> Path:
    path = tmp / "servers.toml"
    path.write_text(
        "[proxy]\nstartup_timeout = 20\n\n"
        f'[servers.alpha]\ntransport = "stdio"\ncommand = {json.dumps(sys.executable)}\n'
        f'args = ["-m", "tests.upstreams", "alpha"]\ncwd = {json.dumps(str(REPO_ROOT))}\n'
        'prefix = ""\nprotocol = "legacy"\n'
    )
    return path


async def _interact(target: Any, *, set_level: bool = True) -> list[Any]:
    """Each call's answer with the progress and log messages before it, as a handshake-era client sees them.

    The example server has no `logging/setLevel` (it sends every level): the proxy is asked for "debug".
    """
    seen: list[Any] = []
    logs: list[Any] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.model_dump(by_alias=True, exclude_none=True))

    async with interactive_client(target, "legacy", logging_callback=on_log) as client:
        if set_level:
            await client.session.set_logging_level("debug")  # pyright: ignore[reportDeprecated]
        updates: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append((progress, total, message))

        for tool, arguments in INTERACTIVE_CALLS:
            updates.clear()
            logs.clear()
            try:
                result = await client.call_tool(tool, arguments, progress_callback=on_progress)
                answer: Any = result.model_dump(by_alias=True, exclude_none=True, exclude={"meta"})
            except MCPError as exc:
                answer = ("error", exc.code, exc.message)
            seen.append((tool, answer, list(updates), list(logs)))
        prompt = await client.get_prompt("greet", {"who": "ada"})
        seen.append(("greet", prompt.model_dump(by_alias=True, exclude_none=True, exclude={"meta"})))
    return seen


async def test_a_handshake_session_over_http_sees_progress_logs_and_questions_as_on_the_sdk_path(
    tmp_path: Path,
) -> None:
    observed: dict[str, list[Any]] = {}
    relayed: dict[str, float] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        async with http_proxy(_interactive_config(run), fast) as url:
            observed[label] = await _interact(url)
            relayed[label] = await _relayed_reaching(url, len(INTERACTIVE_CALLS) if fast else 0)
    direct = StdioServerParameters(command=sys.executable, args=["-m", "tests.upstreams", "alpha"], cwd=REPO_ROOT)
    observed["direct"] = await _interact(stdio_client(direct), set_level=False)
    assert observed["relay"] == observed["sdk"]
    # An unknown name is the proxy's to answer (an error where the server gives a failed tool result).
    assert [e for e in observed["relay"] if e[0] != "no_such_tool"] == [
        e for e in observed["direct"] if e[0] != "no_such_tool"
    ]
    by_tool = {entry[0]: entry for entry in observed["relay"]}
    assert by_tool["slow"][2] == [(1, 3, "alpha step 1"), (2, 3, "alpha step 2"), (3, 3, "alpha step 3")]
    assert [log["data"] for log in by_tool["chatty"][3]] == ["alpha log 0", "alpha log 1", "alpha log 2"]
    assert "llm says hi" in json.dumps(by_tool["ask_llm"][1])
    assert relayed["sdk"] == 0
    # Every call the server knows, and the prompt, went over the relay (the unknown tool: the SDK's).
    assert relayed["relay"] >= len(INTERACTIVE_CALLS)


async def _open_session(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a handshake-era session by hand; the headers its later POSTs carry."""
    headers = {name.lower(): value for name, value in MCP_HEADERS.items()}
    opened = await http.post(url, json=INITIALIZE, headers=headers)
    headers = {**headers, "mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    # The 202 comes before the SDK's session has handled the notification, and the relay serves a
    # session only once it has: a ping, answered by the SDK after it, makes the next call the relay's.
    await http.post(url, json={"jsonrpc": "2.0", "id": "ping", "method": "ping"}, headers=headers)
    return headers


async def _ended_call(url: str, how: str, relayed: int) -> tuple[list[Any], int, int, float]:
    """A call the client ends (`how`: "cancel" it, or "delete" the session): its stream's events,
    what the ending request and the next call on the session got, and the relay's count."""
    async with httpx2.AsyncClient(timeout=30) as http:
        headers = await _open_session(http, url)
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "hang", "arguments": {}}}
        with anyio.fail_after(30):
            async with http.stream("POST", url, json=call, headers=headers) as stream:
                assert stream.headers["mcp-session-id"] == headers["mcp-session-id"]
                assert stream.headers["content-type"].startswith("text/event-stream")
                # The call is in flight once the proxy has sent it on: poll its calls in flight.
                while not await _calls_in_flight(url):
                    await anyio.sleep(0.02)
                if how == "cancel":
                    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
                    ending = await http.post(url, json=cancel, headers=headers)
                else:
                    ending = await http.delete(url, headers=headers)
                lines = [line async for line in stream.aiter_lines()]
            # Nothing is left running on the server's side.
            while await _calls_in_flight(url):
                await anyio.sleep(0.02)
        events = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
        echo_params = {"name": "echo", "arguments": {"message": "x"}}
        echo = {"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": echo_params}
        after = await http.post(url, json=echo, headers=headers)
        if how == "cancel":
            assert "alpha:x" in after.text  # the session still serves calls
        return events, ending.status_code, after.status_code, await _relayed_reaching(url, relayed)


async def _relayed_reaching(url: str, count: int) -> float:
    """The relay's count once it reaches `count` (it is recorded just after each answer), or at the deadline."""
    with anyio.move_on_after(LISTENER_DEADLINE):
        while (seen := await relayed_at(url.removesuffix("/mcp"))) < count:
            await anyio.sleep(0.02)
        return seen
    return await relayed_at(url.removesuffix("/mcp"))


async def _calls_in_flight(url: str) -> bool:
    async with httpx2.AsyncClient(base_url=url.removesuffix("/mcp")) as http:
        servers = (await http.get("/health/detailed")).json()["servers"]
    return any(server["in_flight"] > 0 for server in servers)


@pytest.mark.parametrize("how", ["cancel", "delete"])
async def test_a_handshake_client_that_ends_a_relayed_call_sees_what_the_sdk_path_shows(
    how: str, tmp_path: Path
) -> None:
    seen: dict[str, tuple[list[Any], int, int, float]] = {}
    # Relayed: the call (and, after a cancel, the next one on the session).
    relayed = 2 if how == "cancel" else 1
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        async with http_proxy(_interactive_config(run), fast) as url:
            seen[label] = await _ended_call(url, how, relayed if fast else 0)
    assert seen["relay"][:3] == seen["sdk"][:3]
    if how == "cancel":
        # As the SDK ends a cancelled request on this era; the notification itself is accepted.
        cancelled = {"jsonrpc": "2.0", "id": 7, "error": {"code": -32800, "message": "Request cancelled"}}
        assert seen["relay"][:3] == ([cancelled], 202, 200)
    else:
        # The session's streams end unanswered, and the session is gone.
        assert seen["relay"][:3] == ([], 200, 404)
    assert seen["relay"][3] == relayed
    assert seen["sdk"][3] == 0


async def _refusals(url: str) -> list[tuple[int, str]]:
    """What POSTs the SDK's session manager or transport refuses get: status and body."""
    call = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "x"}},
    }
    async with httpx2.AsyncClient(timeout=30) as http:
        headers = await _open_session(http, url)
        session_less = {k: v for k, v in headers.items() if k != "mcp-session-id"}
        attempts = [
            {**headers, "mcp-session-id": "no-such-session"},
            session_less,
            {**headers, "accept": "application/json"},
            {**headers, "content-type": "text/plain"},
            {**headers, "mcp-protocol-version": "1999-01-01"},
        ]
        answers = [await http.post(url, json=call, headers=attempt) for attempt in attempts]
        malformed = await http.post(url, content=b'{"jsonrpc": "2.0", "id": 9, "method": ', headers=headers)
    return [(answer.status_code, answer.text) for answer in [*answers, malformed]]


async def test_a_handshake_post_the_sdk_refuses_gets_the_sdk_s_refusal_with_the_relay_on(tmp_path: Path) -> None:
    refused: dict[str, list[tuple[int, str]]] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        async with http_proxy(_interactive_config(run), fast) as url:
            refused[label] = await _refusals(url)
            assert await relayed_at(url.removesuffix("/mcp")) == 0
    assert refused["relay"] == refused["sdk"]
    assert [status for status, _ in refused["relay"]] == [404, 400, 406, 400, 400, 400]
