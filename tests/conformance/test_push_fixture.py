"""The push-style fixture, in memory: it asks the way handshake-era servers do, whatever the era.

On a handshake-era session it lists the client's roots right after the handshake and again
before each question, and pushes its questions on the call's stream. On a 2026-07-28 session
the same pushes fail with the SDK's no-back-channel error, which is what a proxy that upgrades
the era for a handshake-era client runs into.
"""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client import ClientRequestContext

from tests.conformance.push_fixture import build_push_server

pytestmark = pytest.mark.anyio

ANSWER = types.CreateMessageResult(
    role="assistant", content=types.TextContent(type="text", text="pushed"), model="m", stop_reason="endTurn"
)
ROOTS = types.ListRootsResult.model_validate({"roots": [{"uri": "file:///work", "name": "work"}]})
ROOTS_DEADLINE_SECONDS = 5.0


class Recorder:
    """Client callbacks that answer and note, in order, what the server asked."""

    def __init__(self, roots: types.ListRootsResult | types.ErrorData = ROOTS) -> None:
        self.asked: list[str] = []
        self.roots_answer = roots
        self.first_roots = anyio.Event()

    async def roots(self, context: ClientRequestContext) -> types.ListRootsResult | types.ErrorData:
        self.asked.append("roots/list")
        self.first_roots.set()
        return self.roots_answer

    async def sample(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.asked.append("sampling/createMessage")
        return ANSWER

    async def elicit(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.asked.append("elicitation/create")
        return types.ElicitResult(action="accept", content={"username": "ada", "email": "ada@example.com"})


def client_of(recorder: Recorder, mode: str = "legacy", *, with_roots: bool = True) -> Client:
    return Client(
        build_push_server(),
        mode=mode,
        cache=None,
        sampling_callback=recorder.sample,
        elicitation_callback=recorder.elicit,
        list_roots_callback=recorder.roots if with_roots else None,
    )


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    return " ".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def test_roots_are_asked_right_after_the_handshake() -> None:
    recorder = Recorder()
    async with client_of(recorder):
        with anyio.fail_after(ROOTS_DEADLINE_SECONDS):
            await recorder.first_roots.wait()
    assert recorder.asked == ["roots/list"]


async def test_sampling_is_pushed_on_the_call_after_the_roots_are_listed() -> None:
    recorder = Recorder()
    async with client_of(recorder) as client:
        with anyio.fail_after(ROOTS_DEADLINE_SECONDS):
            await recorder.first_roots.wait()
        result = await client.call_tool("test_sampling", {"prompt": "hello"})
    assert text_of(result) == "LLM response: pushed"
    assert recorder.asked == ["roots/list", "roots/list", "sampling/createMessage"]


async def test_elicitation_is_pushed_and_reported_like_the_fixtures() -> None:
    recorder = Recorder()
    async with client_of(recorder, with_roots=False) as client:
        result = await client.call_tool("test_elicitation", {"message": "Who are you?"})
    assert text_of(result).startswith("User response: action=accept")
    assert recorder.asked == ["elicitation/create"]  # no roots capability, so no roots asked


async def test_a_roots_request_answered_with_an_error_does_not_stop_the_call() -> None:
    recorder = Recorder(types.ErrorData(code=types.INVALID_REQUEST, message="no client request is in flight"))
    async with client_of(recorder) as client:
        result = await client.call_tool("test_elicitation_sep1034_defaults", {})
    assert text_of(result).startswith("Elicitation completed: action=accept")
    assert recorder.asked[-1] == "elicitation/create"


async def test_on_a_2026_session_a_pushed_question_fails_for_want_of_a_back_channel() -> None:
    recorder = Recorder()
    async with client_of(recorder, "auto") as client:
        assert client.protocol_version == "2026-07-28"
        with pytest.raises(MCPError) as failed:
            await client.call_tool("test_sampling", {"prompt": "hello"})
        # The tools that ask in rounds are the fixture's own, so the 2026 set still has them.
        rounds = await client.call_tool("test_input_required_result_sampling", {})
    assert "no back-channel" in failed.value.message
    assert text_of(rounds) == "Sampling result: pushed"
