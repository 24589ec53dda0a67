"""Anthropic's Messages API, through the official `anthropic` client.

Differences from Chat Completions that this module absorbs: the system prompt is a parameter,
not a message; `max_tokens` is required; tool calls are `tool_use` content blocks whose input
is already an object; tool results go back as `tool_result` blocks in the next user message,
and consecutive results share one message so roles keep alternating.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.types import (
    AssistantMessageParam,
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
    UserMessageParam,
)

from .base import AssistantMessage, LLMReply, LLMRequest, Message, TextSink, ToolCall, ToolSpec, Usage, UserMessage
from .failures import ClientErrors, provider_errors

PROVIDER_NAME = "anthropic"
EMPTY_ASSISTANT_TEXT = "(no text)"
"""Anthropic rejects an empty assistant message; a turn with neither text nor calls gets this."""
CLIENT_ERRORS = ClientErrors.of(anthropic)


def _arguments_object(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def to_wire_messages(messages: list[Message] | tuple[Message, ...]) -> list[MessageParam]:
    """Neutral messages as Messages API turns, tool results folded into user turns."""
    wire: list[MessageParam] = []
    results: list[ToolResultBlockParam] = []

    def flush_results() -> None:
        if results:
            wire.append(UserMessageParam(role="user", content=list(results)))
            results.clear()

    for message in messages:
        if isinstance(message, UserMessage):
            flush_results()
            wire.append(UserMessageParam(role="user", content=message.text))
        elif isinstance(message, AssistantMessage):
            flush_results()
            blocks: list[TextBlockParam | ToolUseBlockParam] = []
            if message.text or not message.tool_calls:
                blocks.append(TextBlockParam(type="text", text=message.text or EMPTY_ASSISTANT_TEXT))
            blocks += [
                ToolUseBlockParam(type="tool_use", id=c.id, name=c.name, input=_arguments_object(c.arguments))
                for c in message.tool_calls
            ]
            wire.append(AssistantMessageParam(role="assistant", content=blocks))
        else:
            results.append(
                ToolResultBlockParam(
                    type="tool_result", tool_use_id=message.call_id, content=message.content, is_error=message.is_error
                )
            )
    flush_results()
    return wire


def to_wire_tools(tools: list[ToolSpec] | tuple[ToolSpec, ...]) -> list[ToolParam]:
    """Tool specs as Messages API tools."""
    return [ToolParam(name=t.name, description=t.description, input_schema=t.parameters) for t in tools]


@dataclass
class _PartialBlock:
    id: str
    name: str
    json_parts: list[str] = field(default_factory=list[str])


class AnthropicProvider:
    """An `LLMProvider` for Anthropic's Messages API."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        max_tokens: int = 4096,
    ) -> None:
        self._model = model
        self._max_tokens = max_tokens
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    @property
    def name(self) -> str:
        """`anthropic`."""
        return PROVIDER_NAME

    @property
    def model(self) -> str:
        """The model every request names."""
        return self._model

    async def complete(self, request: LLMRequest, on_text: TextSink | None = None) -> LLMReply:
        """Run one Messages request, streaming when `on_text` is given."""
        arguments: dict[str, Any] = {
            "model": self._model,
            "max_tokens": self._max_tokens,
            "system": request.system,
            "messages": to_wire_messages(tuple(request.messages)),
        }
        if request.tools:
            arguments["tools"] = to_wire_tools(tuple(request.tools))
        subject = f"The Anthropic API (model {self._model})"
        with provider_errors(CLIENT_ERRORS, subject, provider=self.name, model=self._model):
            if on_text is None:
                return await self._complete(arguments)
            return await self._stream(arguments, on_text)

    async def _complete(self, arguments: dict[str, Any]) -> LLMReply:
        message = await self._client.messages.create(**arguments)
        text = "".join(block.text for block in message.content if block.type == "text")
        calls = tuple(
            ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input))
            for block in message.content
            if block.type == "tool_use"
        )
        return LLMReply(
            text=text,
            tool_calls=calls,
            finish_reason=message.stop_reason or "end_turn",
            usage=Usage(message.usage.input_tokens, message.usage.output_tokens),
        )

    async def _stream(self, arguments: dict[str, Any], on_text: TextSink) -> LLMReply:
        stream = await self._client.messages.create(**arguments, stream=True)
        text: list[str] = []
        blocks: dict[int, _PartialBlock] = {}
        finish_reason = "end_turn"
        input_tokens = output_tokens = 0
        async for event in stream:
            if event.type == "message_start":
                input_tokens = event.message.usage.input_tokens
            elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                blocks[event.index] = _PartialBlock(id=event.content_block.id, name=event.content_block.name)
            elif event.type == "content_block_delta":
                if event.delta.type == "text_delta":
                    text.append(event.delta.text)
                    await on_text(event.delta.text)
                elif event.delta.type == "input_json_delta" and event.index in blocks:
                    blocks[event.index].json_parts.append(event.delta.partial_json)
            elif event.type == "message_delta":
                finish_reason = event.delta.stop_reason or finish_reason
                output_tokens = event.usage.output_tokens
        calls = tuple(
            ToolCall(id=b.id, name=b.name, arguments="".join(b.json_parts) or "{}") for _, b in sorted(blocks.items())
        )
        return LLMReply(
            text="".join(text),
            tool_calls=calls,
            finish_reason=finish_reason,
            usage=Usage(input_tokens, output_tokens),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
