"""Neutral messages in Anthropic's form: tool results folded into user turns, roles alternating."""

from __future__ import annotations

import json
from typing import Any

from chat_api.llm.anthropic import EMPTY_ASSISTANT_TEXT, to_wire_messages
from chat_api.llm.base import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage


def wire(*messages: Message) -> list[dict[str, Any]]:
    """The wire form as plain JSON data (as the client sends it)."""
    plain: list[dict[str, Any]] = json.loads(json.dumps(to_wire_messages(messages)))
    return plain


def test_parallel_tool_results_share_one_user_turn() -> None:
    calls = (ToolCall("a", "q", '{"x": 1}'), ToolCall("b", "q", "{}"))
    sent = wire(
        UserMessage("hi"),
        AssistantMessage(tool_calls=calls),
        ToolResultMessage("a", "q", "one"),
        ToolResultMessage("b", "q", "two", is_error=True),
        AssistantMessage("done"),
    )
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant"]
    assert [(r["tool_use_id"], r["is_error"]) for r in sent[2]["content"]] == [("a", False), ("b", True)]


def test_tool_call_arguments_become_objects_and_bad_json_an_empty_one() -> None:
    calls = (ToolCall("a", "q", '{"x": 1}'), ToolCall("b", "q", '{"broken"'), ToolCall("c", "q", "[1]"))
    [message] = wire(AssistantMessage(tool_calls=calls))
    assert [block["input"] for block in message["content"]] == [{"x": 1}, {}, {}]


def test_an_empty_assistant_turn_gets_placeholder_text() -> None:
    [message] = wire(AssistantMessage())
    assert message["content"] == [{"type": "text", "text": EMPTY_ASSISTANT_TEXT}]
