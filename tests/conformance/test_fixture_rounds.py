"""The fixture's questions in rounds and its diagnostics, in memory, the way the 2026 scenarios call them.

A 2026-07-28 client is driven by hand here (`allow_input_required=True`) so each round's
`InputRequiredResult` can be inspected; a handshake-era client lets the fixture push the same
questions, and the tool completes in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client import ClientRequestContext
from mcp.server.subscriptions import ServerEvent, ToolsListChanged

from tests.conformance.fixture import ConformanceFixture, build_server
from tests.conformance.fixture_diagnostics import DYNAMIC_PROMPT, DYNAMIC_TOOL
from tests.conformance.fixture_rounds import ROUNDS_PROMPT, StateSeal

pytestmark = pytest.mark.anyio

NAME = types.ElicitResult(action="accept", content={"name": "Alice"})
OK = types.ElicitResult(action="accept", content={"ok": True})
PARIS = types.CreateMessageResult(
    role="assistant", content=types.TextContent(type="text", text="Paris"), model="m", stop_reason="endTurn"
)
ROOTS = types.ListRootsResult.model_validate({"roots": [{"uri": "file:///test/root", "name": "Test Root"}]})


async def sample(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return PARIS


async def list_roots(context: ClientRequestContext) -> types.ListRootsResult:
    return ROOTS


def elicit(answers: dict[str, Any]) -> Callable[..., Any]:
    """An elicitation callback filling every form field it knows from `answers`."""

    async def answer(ctx: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        fields = params.requested_schema["properties"]
        return types.ElicitResult(action="accept", content={key: answers[key] for key in fields})

    return answer


def modern_client(**callbacks: Any) -> Client:
    return Client(build_server(), mode="auto", cache=None, **callbacks)


async def raw_call(
    client: Client, name: str, responses: types.InputResponses | None = None, state: str | None = None
) -> types.CallToolResult | types.InputRequiredResult:
    result = await client.session.call_tool(
        name, {}, input_responses=responses, request_state=state, allow_input_required=True
    )
    assert isinstance(result, types.CallToolResult | types.InputRequiredResult)
    return result


def text_of(result: types.CallToolResult | types.InputRequiredResult) -> str:
    assert isinstance(result, types.CallToolResult) and not result.is_error, result
    return " ".join(block.text for block in result.content if isinstance(block, types.TextContent))


def questions(result: types.CallToolResult | types.InputRequiredResult) -> dict[str, str]:
    assert isinstance(result, types.InputRequiredResult), result
    return {key: request.method for key, request in (result.input_requests or {}).items()}


@pytest.mark.parametrize(
    ("tool", "key", "method", "answer", "expected"),
    [
        ("test_input_required_result_elicitation", "user_name", "elicitation/create", NAME, "Hello, Alice!"),
        ("test_input_required_result_sampling", "capital_question", "sampling/createMessage", PARIS, "Paris"),
        ("test_input_required_result_list_roots", "client_roots", "roots/list", ROOTS, "file:///test/root"),
    ],
)
async def test_a_2026_call_gets_its_question_and_the_retry_with_the_answer_completes(
    tool: str, key: str, method: str, answer: types.InputResponse, expected: str
) -> None:
    async with modern_client() as client:
        first = await raw_call(client, tool)
        assert questions(first) == {key: method}
        assert isinstance(first, types.InputRequiredResult) and first.result_type == "input_required"
        assert expected in text_of(await raw_call(client, tool, {key: answer}, first.request_state))


async def test_a_wrong_answer_key_is_asked_again_and_extra_answers_are_ignored() -> None:
    tool = "test_input_required_result_elicitation"
    async with modern_client() as client:
        assert questions(await raw_call(client, tool, {"wrong_key": NAME})) == {"user_name": "elicitation/create"}
        assert text_of(await raw_call(client, tool, {"user_name": NAME, "unknown_extra_key": OK})) == "Hello, Alice!"


async def test_the_request_state_round_trips_and_is_needed_to_complete() -> None:
    tool = "test_input_required_result_request_state"
    async with modern_client() as client:
        first = await raw_call(client, tool)
        assert questions(first) == {"confirm": "elicitation/create"}
        assert isinstance(first, types.InputRequiredResult) and first.request_state
        assert questions(await raw_call(client, tool, {"confirm": OK})) == {"confirm": "elicitation/create"}
        assert "state-ok" in text_of(await raw_call(client, tool, {"confirm": OK}, first.request_state))


async def test_three_questions_of_three_kinds_are_asked_at_once() -> None:
    tool = "test_input_required_result_multiple_inputs"
    async with modern_client() as client:
        first = await raw_call(client, tool)
        assert questions(first) == {
            "user_name": "elicitation/create",
            "greeting": "sampling/createMessage",
            "client_roots": "roots/list",
        }
        assert isinstance(first, types.InputRequiredResult)
        answers: types.InputResponses = {"user_name": NAME, "greeting": PARIS, "client_roots": ROOTS}
        done = text_of(await raw_call(client, tool, answers, first.request_state))
    assert done == "Name: Alice; Greeting: Paris; Roots: 1"


async def test_two_rounds_each_with_a_new_state_then_the_result() -> None:
    tool = "test_input_required_result_multi_round"
    async with modern_client() as client:
        first = await raw_call(client, tool)
        assert questions(first) == {"step1": "elicitation/create"}
        assert isinstance(first, types.InputRequiredResult)
        second = await raw_call(client, tool, {"step1": NAME}, first.request_state)
        assert questions(second) == {"step2": "elicitation/create"}
        assert isinstance(second, types.InputRequiredResult) and second.request_state != first.request_state
        color = types.ElicitResult(action="accept", content={"color": "blue"})
        done = text_of(await raw_call(client, tool, {"step2": color}, second.request_state))
    assert done == "Multi-round complete for Alice who likes blue"


async def test_an_altered_or_foreign_request_state_is_refused() -> None:
    async with modern_client() as client:
        first = await raw_call(client, "test_input_required_result_tampered_state")
        assert isinstance(first, types.InputRequiredResult) and first.request_state
        for tool, state in [
            ("test_input_required_result_tampered_state", first.request_state + "-TAMPERED"),
            ("test_input_required_result_request_state", first.request_state),
        ]:
            with pytest.raises(MCPError) as refused:
                await raw_call(client, tool, {"confirm": OK}, state)
            assert refused.value.code == types.INVALID_PARAMS
        assert "integrity-ok" in text_of(
            await raw_call(client, "test_input_required_result_tampered_state", {"confirm": OK}, first.request_state)
        )


def test_a_sealed_state_opens_only_unaltered_and_under_its_own_key() -> None:
    seal = StateSeal()
    state = seal.seal({"tool": "t", "round": 2})
    assert seal.open(state)["round"] == 2
    assert seal.seal({"tool": "t"}) != seal.seal({"tool": "t"})
    for bad in (state + "x", "x" + state, "no-mac", StateSeal().seal({"tool": "t"})):
        with pytest.raises(MCPError):
            seal.open(bad)


async def test_only_questions_the_client_declared_a_capability_for_are_asked() -> None:
    tool = "test_input_required_result_capabilities"
    async with modern_client(sampling_callback=sample) as client:
        first = await raw_call(client, tool)
        assert questions(first) == {"sample_input": "sampling/createMessage"}
        assert isinstance(first, types.InputRequiredResult)
        done = await raw_call(client, tool, {"sample_input": PARIS}, first.request_state)
        assert "capabilities-ok" in text_of(done)
    async with modern_client() as client:
        assert "nothing to ask" in text_of(await raw_call(client, tool))


async def test_the_prompt_asks_for_its_context_before_it_has_messages() -> None:
    async with modern_client() as client:
        first = await client.session.get_prompt(ROUNDS_PROMPT, allow_input_required=True)
        assert questions(first) == {"user_context": "elicitation/create"}  # pyright: ignore[reportArgumentType]
        context = types.ElicitResult(action="accept", content={"context": "tests"})
        prompt = await client.session.get_prompt(ROUNDS_PROMPT, input_responses={"user_context": context})
    assert isinstance(prompt, types.GetPromptResult) and prompt.messages


async def test_on_a_handshake_session_the_fixture_pushes_the_same_questions_itself() -> None:
    answers = {"name": "Alice", "color": "blue", "context": "tests"}
    async with Client(
        build_server(),
        mode="legacy",
        cache=None,
        elicitation_callback=elicit(answers),
        sampling_callback=sample,
        list_roots_callback=list_roots,
    ) as client:
        rounds = await client.call_tool("test_input_required_result_multi_round", {})
        multiple = await client.call_tool("test_input_required_result_multiple_inputs", {})
        prompt = await client.get_prompt(ROUNDS_PROMPT)
    assert text_of(rounds) == "Multi-round complete for Alice who likes blue"
    assert text_of(multiple) == "Name: Alice; Greeting: Paris; Roots: 1"
    assert prompt.messages


async def test_on_a_handshake_session_a_rounds_questions_are_pushed_at_once_and_all_answered() -> None:
    both_asked = anyio.Event()
    asked: list[str] = []

    async def refuse_form(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ErrorData:
        asked.append("elicitation")
        with anyio.fail_after(5):
            await both_asked.wait()  # only if both questions are out at the same time
        return types.ErrorData(code=types.INVALID_REQUEST, message="no forms here")

    async def sample_then_note(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        asked.append("sampling")
        both_asked.set()
        return PARIS

    async with Client(
        build_server(),
        mode="legacy",
        cache=None,
        elicitation_callback=refuse_form,
        sampling_callback=sample_then_note,
    ) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("test_input_required_result_capabilities", {})
    assert sorted(asked) == ["elicitation", "sampling"]  # the refusal did not cut the other question short
    assert refused.value.message == "no forms here"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_missing_capability_tool_refuses_a_client_without_sampling(mode: str) -> None:
    async with Client(build_server(), mode=mode, cache=None) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("test_missing_capability", {})
    assert refused.value.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
    assert refused.value.data == {"requiredCapabilities": {"sampling": {}}}
    async with Client(build_server(), mode=mode, cache=None, sampling_callback=sample) as client:
        assert "Success" in text_of(await client.call_tool("test_missing_capability", {}))


async def test_the_logging_tool_logs_on_2026_only_when_the_request_asked_for_a_level() -> None:
    received: list[types.LoggingMessageNotificationParams] = []

    async def collect(params: types.LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with modern_client(logging_callback=collect) as client:
        assert text_of(await client.call_tool("test_logging_tool", {})) == "Logging evaluated"
        assert received == []
    async with modern_client(logging_callback=collect, log_level="info") as client:
        await client.call_tool("test_logging_tool", {})
    assert [params.data for params in received] == ["Diagnostic trace logging activated"]


async def test_the_triggers_really_change_the_lists_and_announce_it() -> None:
    fixture = ConformanceFixture()
    events: list[ServerEvent] = []
    fixture.events.subscribe(events.append)
    notified: list[object] = []

    async def on_message(message: object) -> None:
        notified.append(message)

    async with Client(build_server(fixture), mode="legacy", cache=None, message_handler=on_message) as client:
        await client.call_tool("test_trigger_tool_change", {})
        assert DYNAMIC_TOOL in {tool.name for tool in (await client.list_tools()).tools}
        assert text_of(await client.call_tool(DYNAMIC_TOOL, {})) == "The dynamic tool is here"
        await client.call_tool("test_trigger_tool_change", {})
        assert DYNAMIC_TOOL not in {tool.name for tool in (await client.list_tools()).tools}
        await client.call_tool("test_trigger_prompt_change", {})
        assert DYNAMIC_PROMPT.name in {prompt.name for prompt in (await client.list_prompts()).prompts}
        assert (await client.get_prompt(DYNAMIC_PROMPT.name)).messages
    assert events[:2] == [ToolsListChanged(), ToolsListChanged()] and len(events) == 3
    pushed = [message for message in notified if isinstance(message, types.ToolListChangedNotification)]
    assert len(pushed) == 2


async def test_an_unknown_resource_on_2026_is_invalid_params_naming_the_uri() -> None:
    async with modern_client() as client:
        with pytest.raises(MCPError) as missing:
            await client.read_resource("test://nowhere")
    assert missing.value.code == types.INVALID_PARAMS
    assert missing.value.data == {"uri": "test://nowhere"}


async def test_the_header_parameter_tool_echoes_its_argument_on_either_era() -> None:
    for mode in ("legacy", "auto"):
        async with Client(build_server(), mode=mode, cache=None) as client:
            (tool,) = [tool for tool in (await client.list_tools()).tools if tool.name == "test_header_parameter"]
            assert tool.input_schema["properties"]["region"]["x-mcp-header"] == "Region"
            assert text_of(await client.call_tool("test_header_parameter", {"region": "eu"})) == "Region: eu"
