"""The one small interface every LLM provider implements, in provider-neutral types.

The tool loop speaks only these types; each provider module converts them to and from its
API's wire shapes. A conversation is a list of `Message`s: user text, assistant turns (text
plus the tool calls the model asked for), and tool results. Tool-call arguments stay the raw
JSON text the model produced, so invalid JSON reaches the loop, which answers it as a tool
error the model can fix, instead of failing inside a provider.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolSpec:
    """A tool as offered to the model."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; `arguments` is the JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class UserMessage:
    """What the user said."""

    text: str


@dataclass(frozen=True)
class AssistantMessage:
    """What the model said: text, tool calls, or both."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ToolResultMessage:
    """The outcome of one tool call, as text for the model."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


Message = UserMessage | AssistantMessage | ToolResultMessage


@dataclass(frozen=True)
class Usage:
    """Tokens spent on one request, when the provider reports them."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class LLMRequest:
    """Everything one model call needs."""

    system: str
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()


@dataclass(frozen=True)
class LLMReply:
    """The model's answer to one request."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    usage: Usage | None = field(default=None)


TextSink = Callable[[str], Awaitable[None]]
"""Receives the reply's text as it is generated (streaming)."""


class LLMProvider(Protocol):
    """A chat model behind some API."""

    @property
    def name(self) -> str:
        """A short provider name for logs, metrics and errors (`openai`, `anthropic`)."""
        ...

    @property
    def model(self) -> str:
        """The model every request uses."""
        ...

    async def complete(self, request: LLMRequest, on_text: TextSink | None = None) -> LLMReply:
        """Run one model call; when `on_text` is given, stream and pass it each text delta.

        Raises:
            LLMUnreachable: no connection, or no answer in time.
            LLMFailed: the provider answered with an error.
        """
        ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...
