"""The OpenAI-compatible provider on its own, against the scripted Chat Completions endpoint."""

from __future__ import annotations

import pytest

from chat_api.llm.base import AssistantMessage, LLMRequest, ToolCall, ToolResultMessage, ToolSpec, UserMessage
from chat_api.llm.openai_compat import OpenAICompatProvider, to_wire_messages
from tests.chat_api.llm_script import Call, Calls, Reply, ScriptedLLM

pytestmark = pytest.mark.anyio

TOOL = ToolSpec(name="q", description="[server: db] Query.", parameters={"type": "object", "properties": {}})


async def test_tool_options_are_sent_only_with_tools(script: ScriptedLLM) -> None:
    provider = OpenAICompatProvider(
        model="m", base_url=script.openai_base_url, tool_choice="auto", parallel_tool_calls=False
    )
    script.script(Reply("a"), Calls(Call("q", {"x": 1})))
    try:
        plain = await provider.complete(LLMRequest(system="s", messages=[UserMessage("hi")]))
        called = await provider.complete(LLMRequest(system="s", messages=[UserMessage("hi")], tools=[TOOL]))
    finally:
        await provider.aclose()
    assert plain.text == "a" and plain.usage is not None and plain.usage.output_tokens == 7
    assert "tool_choice" not in script.requests[0].body and "tools" not in script.requests[0].body
    assert script.requests[1].body["tool_choice"] == "auto"
    assert script.requests[1].body["parallel_tool_calls"] is False
    assert called.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in called.tool_calls] == [("q", '{"x": 1}')]


async def test_streamed_tool_call_fragments_are_reassembled(script: ScriptedLLM) -> None:
    provider = OpenAICompatProvider(model="m", base_url=script.openai_base_url, api_key="k")
    script.script(Calls(Call("q", {"sql": "SELECT 1"}), Call("q", '{"broken"'), text="Checking."))
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    try:
        reply = await provider.complete(LLMRequest(system="s", messages=[UserMessage("hi")], tools=[TOOL]), collect)
    finally:
        await provider.aclose()
    assert "".join(pieces) == "Checking." and len(pieces) > 1
    assert [c.arguments for c in reply.tool_calls] == ['{"sql": "SELECT 1"}', '{"broken"']
    assert reply.tool_calls[0].id != reply.tool_calls[1].id


def test_history_is_sent_in_chat_completions_form() -> None:
    call = ToolCall(id="c1", name="q", arguments="{}")
    wire = to_wire_messages(
        "system text",
        (
            UserMessage("hi"),
            AssistantMessage(tool_calls=(call,)),
            ToolResultMessage("c1", "q", "rows"),
            AssistantMessage("done"),
        ),
    )
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool", "assistant"]
    assert wire[2].get("content") is None
    assert wire[2].get("tool_calls") == [{"id": "c1", "type": "function", "function": {"name": "q", "arguments": "{}"}}]
    assert wire[3] == {"role": "tool", "tool_call_id": "c1", "content": "rows"}
