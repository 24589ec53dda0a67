"""The raw lane of a streamable-HTTP upstream, against the SDK's server in a real process on loopback.

Run as a module, this file is that server: `python -m tests.mcp_proxy.upstream.test_http_lane
[--json] --marks DIR` serves the test upstream (`tests/upstreams.py`) plus a `watched` tool that
writes `DIR/<tag>.started` when its call begins and `DIR/<tag>` when it is cancelled, answering
requests with JSON (`--json`) or SSE.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import MCPError
from mcp.client import ClientRequestContext

from mcp_proxy.config.models import ServerConfig
from mcp_proxy.upstream.flights import SessionHandlers
from mcp_proxy.upstream.http_lane import HttpLane, lane_fits
from mcp_proxy.upstream.lane import LANE_ID_BASE, Message
from mcp_proxy.upstream.link import OpenSession, open_session
from mcp_proxy.upstream.transports import open_transport
from tests.processes import Spawned, example_ready, spawn

pytestmark = pytest.mark.anyio

ERAS = ["2026-07-28", "legacy"]
DEADLINE = 15.0
SAMPLED = "sampled answer"


def serve(json_response: bool, marks: Path) -> None:
    """The test upstream over streamable HTTP on a free port, announcing its URL on stderr."""
    from examples.servers._serve import STREAMABLE_HTTP_PATH, ServeOptions, serve_asgi
    from tests.upstreams import build_upstream

    server = build_upstream("lane")

    @server.tool(description="Mark `tag.started`, wait until cancelled, then mark `tag`.")
    async def watched(tag: str) -> str:
        (marks / f"{tag}.started").write_text("started")
        try:
            await anyio.sleep_forever()
        finally:
            (marks / tag).write_text("cancelled")
        return "unreachable"

    app = server.streamable_http_app(streamable_http_path=STREAMABLE_HTTP_PATH, json_response=json_response)
    serve_asgi(app, ServeOptions(transport="http", port=0, log_level="WARNING"), STREAMABLE_HTTP_PATH)


@asynccontextmanager
async def upstream(marks: Path, *, json_response: bool = False) -> AsyncGenerator[Spawned]:
    args = [sys.executable, "-m", "tests.mcp_proxy.upstream.test_http_lane", "--marks", str(marks)]
    async with spawn([*args, "--json"] if json_response else args, ready=example_ready) as server:
        yield server


async def answer_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=SAMPLED), model="m")


async def unexpected(*_: Any) -> None:
    return None


def no_call_in_flight(_: dict[str, Any]) -> bool:
    return False  # log messages go to the session's own callback


HANDLERS = SessionHandlers(unexpected, unexpected, answer_sampling, unexpected, unexpected, no_call_in_flight)  # pyright: ignore[reportArgumentType]


@asynccontextmanager
async def session_to(server: Spawned, era: str) -> AsyncGenerator[OpenSession]:
    config = ServerConfig(name="lane", transport="http", url=server.ready["url"], protocol=era)  # pyright: ignore[reportArgumentType]
    async with open_session(config, open_transport, HANDLERS, era) as link:  # pyright: ignore[reportArgumentType]
        assert isinstance(link.session.lane, HttpLane)
        yield link


async def call(link: OpenSession, tool: str, notices: list[Message] | None = None, **arguments: Any) -> Message:
    assert link.session.lane is not None
    message: Message = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    headers = link.session.stamp(message)
    sink = notices.append if notices is not None else (lambda notice: None)
    with anyio.fail_after(DEADLINE):
        return await link.session.lane.request(message, headers, sink)


def text_of(answer: Message) -> str:
    return answer["result"]["content"][0]["text"]


async def wait_for(path: Path) -> None:
    with anyio.fail_after(DEADLINE):
        while not path.exists():
            await anyio.sleep(0.02)


@pytest.mark.parametrize("json_response", [True, False], ids=["json", "sse"])
@pytest.mark.parametrize("era", ERAS)
async def test_a_request_is_answered_with_the_servers_decoded_response(
    era: str, json_response: bool, tmp_path: Path
) -> None:
    async with upstream(tmp_path, json_response=json_response) as server, session_to(server, era) as link:
        answer = await call(link, "echo", message="hello")
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] >= LANE_ID_BASE
    assert text_of(answer) == "lane:hello"


@pytest.mark.parametrize("era", ERAS)
async def test_progress_on_the_sse_stream_reaches_the_requests_sink(era: str, tmp_path: Path) -> None:
    notices: list[Message] = []
    async with upstream(tmp_path) as server, session_to(server, era) as link:
        answer = await call(link, "slow", notices, steps=3)
    assert text_of(answer) == "lane:slow done"
    progress = [n["params"] for n in notices if n["method"] == "notifications/progress"]
    assert [p["progress"] for p in progress] == [1, 2, 3]
    assert {p["progressToken"] for p in progress} == {answer["id"]}


@pytest.mark.parametrize("era", ERAS)
async def test_a_json_rpc_error_reply_is_returned_as_the_error_the_session_would_raise(
    era: str, tmp_path: Path
) -> None:
    uri = "note://nowhere/missing"
    async with upstream(tmp_path) as server, session_to(server, era) as link:
        assert link.session.lane is not None
        message: Message = {"jsonrpc": "2.0", "method": "resources/read", "params": {"uri": uri}}
        answer = await link.session.lane.request(message, link.session.stamp(message), lambda notice: None)
        with pytest.raises(MCPError) as raised:
            await link.session.read_resource(uri)
    assert "result" not in answer
    assert answer["id"] == message["id"]
    assert answer["error"]["code"] == raised.value.error.code
    assert answer["error"]["message"] == raised.value.error.message


@pytest.mark.parametrize("era", ERAS)
async def test_a_cancelled_request_is_cancelled_on_the_server_and_the_lane_goes_on(era: str, tmp_path: Path) -> None:
    async with upstream(tmp_path) as server, session_to(server, era) as link:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: call(link, "watched", tag="gone"))
            await wait_for(tmp_path / "gone.started")
            tg.cancel_scope.cancel()
        await wait_for(tmp_path / "gone")  # the server's handler was cancelled
        assert text_of(await call(link, "echo", message="after")) == "lane:after"


async def test_a_server_request_on_a_legacy_lane_stream_is_answered_by_the_session(tmp_path: Path) -> None:
    async with upstream(tmp_path) as server, session_to(server, "legacy") as link:
        answer = await call(link, "ask_llm", prompt="hi")
    assert SAMPLED in text_of(answer)


async def test_requests_in_flight_together_each_get_their_own_answer(tmp_path: Path) -> None:
    async with upstream(tmp_path) as server, session_to(server, "2026-07-28") as link:
        answers: dict[int, str] = {}

        async def one(number: int) -> None:
            answers[number] = text_of(await call(link, "echo", message=str(number)))

        async with anyio.create_task_group() as tg:
            for number in range(64):
                tg.start_soon(one, number)
    assert answers == {number: f"lane:{number}" for number in range(64)}


@pytest.mark.parametrize("era", ERAS)
async def test_a_server_that_goes_away_fails_requests_with_connection_closed(era: str, tmp_path: Path) -> None:
    async with upstream(tmp_path) as server, session_to(server, era) as link:
        failures: list[MCPError] = []

        async def doomed() -> None:
            with pytest.raises(MCPError) as caught:
                await call(link, "watched", tag="doomed")
            failures.append(caught.value)

        async with anyio.create_task_group() as tg:
            tg.start_soon(doomed)
            await wait_for(tmp_path / "doomed.started")
            server.process.kill()
        with pytest.raises(MCPError) as afterwards:
            await call(link, "echo", message="anyone?")
    assert [f.error.code for f in failures] == [types.CONNECTION_CLOSED]
    assert afterwards.value.error.code == types.CONNECTION_CLOSED


def test_servers_signing_in_or_behind_an_environment_proxy_get_no_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert lane_fits("http://127.0.0.1:9/mcp", None)
    assert not lane_fits("http://127.0.0.1:9/mcp", object())  # pyright: ignore[reportArgumentType]
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert not lane_fits("http://example.invalid/mcp", None)
    monkeypatch.setenv("NO_PROXY", "example.invalid")
    assert lane_fits("http://example.invalid/mcp", None)


def main() -> None:
    parser = argparse.ArgumentParser(description="the HTTP lane tests' upstream")
    parser.add_argument("--json", action="store_true", help="answer requests with JSON, not SSE")
    parser.add_argument("--marks", type=Path, required=True, help="where cancelled calls leave their marks")
    args = parser.parse_args()
    serve(args.json, args.marks)


if __name__ == "__main__":
    main()
