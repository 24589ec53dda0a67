"""The lean relay on handshake-era sessions of the streamable HTTP front, through real processes.

A handshake-era client's POSTs on its session are answered by the relay once the session is
initialized. What such a client sees must not change: progress and log messages before the
answer, questions to the client (sampling, elicitation, roots) on the call's own stream, a
cancelled call ended as the SDK ends it, a deleted session's streams ended, and every POST the
SDK refuses refused alike. Each behaviour is taken with the relay on and with
`MCP_PROXY_FAST_PATH=0`, and compared with the same client talking to the server directly
where a direct comparison exists; the proxy's metrics show the relay answered.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.processes import REPO_ROOT

from .http_support import INITIALIZE, MCP_HEADERS
from .test_fast_relay import LISTENER_DEADLINE, http_proxy, relayed_at
from .test_interaction import interactive_client

pytestmark = pytest.mark.anyio


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
