"""Questions a handshake-era upstream pushes mid-call reach a 2026-07-28 client as input rounds.

The proxy runs as a real process on each front; its upstream (`asking_upstream.py`, a stdio child)
speaks only the handshake era and asks by pushing requests on the call's stream. The client is
the SDK's `Client` in the 2026-07-28 era: `client.call_tool` drives the rounds itself, and
`client.session.call_tool(..., allow_input_required=True)` shows each round as it comes.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client

from tests.processes import REPO_ROOT, Spawned, proxy_listening, spawn, stdio_proxy

from .test_interaction import answer_elicitation, answer_roots, answer_sampling, text_of

pytestmark = pytest.mark.anyio

FRONTS = ["http", "stdio"]
BRIEF_TIMEOUT = 2.0
"""The `timeout` of the server `brief`: how long a round of its calls may stay unanswered."""
ADA = types.ElicitResult(action="accept", content={"name": "ada"})
Connect = Callable[..., Client]


def _server(module: str, *args: str, **settings: Any) -> str:
    """A stdio server's settings running `module` with this interpreter."""
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    lines = [f"command = {python}", f"args = {json.dumps(['-m', module, *args])}", f"cwd = {root}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines)


UPSTREAM = "tests.mcp_proxy.asking_upstream"
SERVERS = {
    "ask": _server(UPSTREAM),  # speaks only the handshake era
    "brief": _server(UPSTREAM, timeout=BRIEF_TIMEOUT),
    "pinned": _server("tests.mcp_proxy.era_upstreams", "push", "push", protocol="legacy"),  # serves both eras
}


def write_config(tmp_path: Path, *names: str) -> Path:
    """A configuration with the servers `names` of `SERVERS`."""
    tables = "\n\n".join(f'[servers.{name}]\ntransport = "stdio"\n{SERVERS[name]}' for name in names)
    path = tmp_path / "servers.toml"
    path.write_text(f"[proxy]\nstartup_timeout = 30\n\n{tables}\n")
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, "ask")


@asynccontextmanager
async def http_proxy(config: Path) -> AsyncGenerator[Spawned]:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    async with spawn([*args, "--config", str(config), "--log-format", "json"], ready=proxy_listening) as proxy:
        yield proxy


@asynccontextmanager
async def proxy_on(front: str, config: Path) -> AsyncGenerator[Connect]:
    """The proxy serving `front`, and a way to connect 2026-07-28 clients to it."""

    def client_for(target: Callable[[], Any]) -> Connect:
        return lambda **callbacks: Client(target(), mode="auto", cache=None, **callbacks)

    if front == "stdio":
        yield client_for(lambda: stdio_client(stdio_proxy(config)))
        return
    async with http_proxy(config) as proxy:
        ready = proxy.ready
        yield client_for(lambda: ready["url"]) if front == "http" else client_for(lambda: sse_client(ready["sse"]))


def answering(connect: Connect, **overrides: Any) -> Client:
    callbacks: dict[str, Any] = {
        "sampling_callback": answer_sampling,
        "elicitation_callback": answer_elicitation,
        "list_roots_callback": answer_roots,
    }
    return connect(**{**callbacks, **overrides})


async def first_round(client: Client, tool: str) -> types.InputRequiredResult:
    result = await client.session.call_tool(tool, {}, allow_input_required=True)
    assert isinstance(result, types.InputRequiredResult), result
    assert result.request_state is not None
    return result


async def answer_round(
    client: Client,
    tool: str,
    round_: types.InputRequiredResult,
    answers: types.InputResponses,
    state: str | None = None,
) -> types.CallToolResult | types.InputRequiredResult:
    result = await client.session.call_tool(
        tool, {}, input_responses=answers, request_state=state or round_.request_state, allow_input_required=True
    )
    assert isinstance(result, types.CallToolResult | types.InputRequiredResult)
    return result


async def counts(client: Client, server: str) -> dict[str, dict[str, int]]:
    return json.loads(text_of(await client.call_tool(f"{server}__counts", {})))


@pytest.mark.parametrize("front", ["http", "sse", "stdio"])
async def test_a_pushed_question_reaches_a_2026_client_as_one_input_round(config_path: Path, front: str) -> None:
    async with proxy_on(front, config_path) as connect, answering(connect) as client:
        round_ = await first_round(client, "ask__ask_name")
        done = await answer_round(client, "ask__ask_name", round_, {"elicitation_1": ADA})
        driven = await client.call_tool("ask__ask_name", {})  # the SDK's own driver answers the round
        assert client.protocol_version == "2026-07-28"
    [(key, question)] = (round_.input_requests or {}).items()
    assert key == "elicitation_1"
    assert isinstance(question, types.ElicitRequest) and question.params.message == "Who are you?"
    assert round_.request_state is not None and round_.request_state.startswith("manifold-round.1.")
    assert isinstance(done, types.CallToolResult) and text_of(done) == "hello ada"
    assert text_of(driven) == "hello ada"


@pytest.mark.parametrize("front", FRONTS)
async def test_questions_asked_one_after_another_come_in_rounds_each_with_a_new_state(
    config_path: Path, front: str
) -> None:
    async with proxy_on(front, config_path) as connect, answering(connect) as client:
        first = await first_round(client, "ask__ask_twice")
        second = await answer_round(client, "ask__ask_twice", first, {"elicitation_1": ADA})
        assert isinstance(second, types.InputRequiredResult)
        sampled = types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="blue"), model="m"
        )
        done = await answer_round(client, "ask__ask_twice", second, {"sampling_2": sampled})
        driven = await client.call_tool("ask__ask_twice", {})
    assert list(first.input_requests or {}) == ["elicitation_1"]
    assert list(second.input_requests or {}) == ["sampling_2"]
    assert second.request_state != first.request_state
    assert isinstance(done, types.CallToolResult) and text_of(done) == "ada likes blue"
    assert text_of(driven) == "ada likes llm says favourite colour of ada?"


@pytest.mark.parametrize("front", FRONTS)
async def test_questions_asked_at_once_come_as_one_round_with_a_key_each(config_path: Path, front: str) -> None:
    async with proxy_on(front, config_path) as connect, answering(connect) as client:
        round_ = await first_round(client, "ask__ask_all")
        questions = round_.input_requests or {}
        answers: types.InputResponses = {}
        for key, question in questions.items():
            if isinstance(question, types.ElicitRequest):
                answers[key] = ADA
            elif isinstance(question, types.CreateMessageRequest):
                answers[key] = types.CreateMessageResult(
                    role="assistant", content=types.TextContent(type="text", text="hi"), model="m"
                )
            else:
                answers[key] = types.ListRootsResult(roots=[types.Root.model_validate({"uri": "file:///srv/work"})])
        done = await answer_round(client, "ask__ask_all", round_, answers)
    assert sorted(question.method for question in questions.values()) == [
        "elicitation/create",
        "roots/list",
        "sampling/createMessage",
    ]
    assert isinstance(done, types.CallToolResult)
    assert text_of(done) == "name=ada; said=hi; roots=file:///srv/work"


@pytest.mark.parametrize("front", FRONTS)
async def test_an_altered_or_spent_state_is_refused_and_never_becomes_a_fresh_call(
    config_path: Path, front: str
) -> None:
    async with proxy_on(front, config_path) as connect, answering(connect) as client:
        round_ = await first_round(client, "ask__ask_name")
        assert round_.request_state is not None
        with pytest.raises(MCPError) as tampered:
            await answer_round(client, "ask__ask_name", round_, {"elicitation_1": ADA}, round_.request_state + "-X")
        done = await answer_round(client, "ask__ask_name", round_, {"elicitation_1": ADA})  # the call lives on
        with pytest.raises(MCPError) as spent:
            await answer_round(client, "ask__ask_name", round_, {"elicitation_1": ADA})
        with pytest.raises(MCPError) as foreign:
            await answer_round(client, "ask__ask_name", round_, {"elicitation_1": ADA}, "a-state-of-someone-else")
        seen = await counts(client, "ask")
    assert tampered.value.code == types.INVALID_PARAMS and "integrity check" in tampered.value.message
    assert isinstance(done, types.CallToolResult) and text_of(done) == "hello ada"
    assert spent.value.code == types.INVALID_PARAMS and "names no pending request" in spent.value.message
    assert foreign.value.code == types.INVALID_PARAMS and "not issued by this proxy" in foreign.value.message
    assert seen["started"] == {"ask_name": 1}  # none of the refused retries reached the server


@pytest.mark.parametrize("front", FRONTS)
async def test_a_round_nobody_answers_is_abandoned_after_the_servers_timeout(tmp_path: Path, front: str) -> None:
    async with proxy_on(front, write_config(tmp_path, "brief")) as connect, answering(connect) as client:
        round_ = await first_round(client, "brief__ask_name")
        cancelled: dict[str, int] = {}
        with anyio.fail_after(BRIEF_TIMEOUT + 15):
            while not cancelled:  # the proxy cancels the server's call once the round goes unanswered
                cancelled = (await counts(client, "brief"))["cancelled"]
                await anyio.sleep(0.1)
        with pytest.raises(MCPError) as late:
            await answer_round(client, "brief__ask_name", round_, {"elicitation_1": ADA})
        seen = await counts(client, "brief")
    assert cancelled == {"ask_name": 1}
    assert late.value.code == types.INVALID_PARAMS and "names no pending request" in late.value.message
    assert seen["started"] == {"ask_name": 1}


@pytest.mark.parametrize("front", FRONTS)
async def test_a_client_is_only_asked_what_it_declared(tmp_path: Path, front: str) -> None:
    async with (
        proxy_on(front, write_config(tmp_path, "ask", "pinned")) as connect,
        connect(sampling_callback=answer_sampling) as client,
    ):
        with pytest.raises(MCPError) as refused:
            await client.call_tool("ask__ask_name", {})
        sampled = await client.call_tool("pinned__ask_llm", {})
    assert "asked for elicitation (elicitation/create), which this client does not support" in refused.value.message
    assert text_of(sampled) == "push:sampled[llm says hi]"


async def test_progress_and_log_messages_reach_the_client_in_every_round(config_path: Path) -> None:
    reported: list[float] = []
    logs: list[Any] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append(progress)

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async with (
        proxy_on("http", config_path) as connect,
        answering(connect, logging_callback=on_log, log_level="info") as client,
    ):
        result = await client.call_tool("ask__ask_with_news", {}, progress_callback=on_progress)
    assert text_of(result) == "hello ada"
    assert reported == [1, 2]
    assert logs == ["before the question", "after the answer"]


async def test_prompts_and_resource_reads_ask_in_rounds_too(config_path: Path) -> None:
    async with proxy_on("http", config_path) as connect, answering(connect) as client:
        prompt = await client.get_prompt("ask__ask_prompt", {})
        read = await client.read_resource("ask://ask/topic")
    content = prompt.messages[0].content
    assert isinstance(content, types.TextContent) and content.text == "Talk about ada"
    [contents] = read.contents
    assert isinstance(contents, types.TextResourceContents) and contents.text == "topic: llm says pick a topic"


async def test_a_server_pinned_to_the_handshake_era_asks_in_rounds(tmp_path: Path) -> None:
    async with proxy_on("http", write_config(tmp_path, "pinned")) as connect, answering(connect) as client:
        asked = await client.call_tool("pinned__ask_user", {})
    assert text_of(asked) == "push:hello ada"


async def test_cancelling_the_retry_cancels_the_servers_call(config_path: Path) -> None:
    async with proxy_on("http", config_path) as connect, answering(connect) as client:
        round_ = await first_round(client, "ask__ask_then_hang")
        answers: types.InputResponses = {"elicitation_1": ADA}
        async with anyio.create_task_group() as tg:
            tg.start_soon(answer_round, client, "ask__ask_then_hang", round_, answers)
            with anyio.fail_after(15):
                while not (await counts(client, "ask")).get("answered"):  # the server got the answer
                    await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        cancelled: dict[str, int] = {}
        with anyio.fail_after(15):
            while not cancelled:
                cancelled = (await counts(client, "ask"))["cancelled"]
                await anyio.sleep(0.05)
    assert cancelled == {"ask_then_hang": 1}


async def test_another_clients_state_reveals_nothing(config_path: Path) -> None:
    async with proxy_on("sse", config_path) as connect, answering(connect) as owner, answering(connect) as other:
        round_ = await first_round(owner, "ask__ask_name")
        with pytest.raises(MCPError) as refused:
            await answer_round(other, "ask__ask_name", round_, {"elicitation_1": ADA})
        done = await answer_round(owner, "ask__ask_name", round_, {"elicitation_1": ADA})
    assert refused.value.code == types.INVALID_PARAMS and "names no pending request" in refused.value.message
    assert isinstance(done, types.CallToolResult) and text_of(done) == "hello ada"


async def test_shutdown_does_not_wait_for_a_round_out_with_its_client(config_path: Path) -> None:
    async with http_proxy(config_path) as proxy:
        async with Client(proxy.ready["url"], mode="auto", cache=None, elicitation_callback=answer_elicitation) as c:
            await first_round(c, "ask__ask_name")
        proxy.process.send_signal(signal.SIGTERM)
        started = anyio.current_time()
        with anyio.fail_after(15):
            await proxy.process.wait()
        # The default drain waits 20 s for calls in flight; a round out with its client is none.
        assert anyio.current_time() - started < 8
