"""Any OpenAI-compatible Chat Completions endpoint, through the official `openai` client.

OpenAI itself, Ollama (`http://localhost:11434/v1`), vLLM, llama.cpp's `llama-server`,
LM Studio (`http://localhost:1234/v1`) and most gateways speak this API. Streaming replies
carry tool calls in fragments keyed by `index`; they are assembled here and handed to the loop
only once the stream has ended, arguments still as the model's raw JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)

from .base import (
    AssistantMessage,
    LLMReply,
    LLMRequest,
    Message,
    TextSink,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from .failures import ClientErrors, provider_errors

PROVIDER_NAME = "openai"
PLACEHOLDER_API_KEY = "not-needed"
"""Local servers (Ollama, LM Studio, llama.cpp) ignore the key, but the client insists on one."""
CLIENT_ERRORS = ClientErrors.of(openai)


def to_wire_messages(system: str, messages: list[Message] | tuple[Message, ...]) -> list[ChatCompletionMessageParam]:
    """Neutral messages in Chat Completions form, the system prompt first."""
    wire: list[ChatCompletionMessageParam] = [ChatCompletionSystemMessageParam(role="system", content=system)]
    for message in messages:
        if isinstance(message, UserMessage):
            wire.append(ChatCompletionUserMessageParam(role="user", content=message.text))
        elif isinstance(message, AssistantMessage):
            assistant = ChatCompletionAssistantMessageParam(role="assistant", content=message.text or None)
            if message.tool_calls:
                assistant["tool_calls"] = [
                    ChatCompletionMessageFunctionToolCallParam(
                        id=call.id, type="function", function={"name": call.name, "arguments": call.arguments}
                    )
                    for call in message.tool_calls
                ]
            wire.append(assistant)
        else:
            wire.append(_tool_message(message))
    return wire


def _tool_message(message: ToolResultMessage) -> ChatCompletionToolMessageParam:
    return ChatCompletionToolMessageParam(role="tool", tool_call_id=message.call_id, content=message.content)


def to_wire_tools(tools: list[ToolSpec] | tuple[ToolSpec, ...]) -> list[ChatCompletionFunctionToolParam]:
    """Tool specs as function tools (no `strict`: MCP schemas rarely fit strict mode's subset)."""
    return [
        ChatCompletionFunctionToolParam(
            type="function",
            function={"name": t.name, "description": t.description, "parameters": t.parameters},
        )
        for t in tools
    ]


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list[str])


class OpenAICompatProvider:
    """An `LLMProvider` for OpenAI-compatible Chat Completions endpoints."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
    ) -> None:
        self._model = model
        self.base_url = base_url
        self._client = openai.AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY, base_url=base_url, timeout=timeout, max_retries=max_retries
        )
        self._options: dict[str, Any] = {}
        if tool_choice is not None:
            self._options["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            self._options["parallel_tool_calls"] = parallel_tool_calls

    @property
    def name(self) -> str:
        """`openai` (for every compatible endpoint)."""
        return PROVIDER_NAME

    @property
    def model(self) -> str:
        """The model every request names."""
        return self._model

    async def complete(self, request: LLMRequest, on_text: TextSink | None = None) -> LLMReply:
        """Run one Chat Completions request, streaming when `on_text` is given."""
        arguments: dict[str, Any] = {
            "model": self._model,
            "messages": to_wire_messages(request.system, tuple(request.messages)),
        }
        if request.tools:
            arguments["tools"] = to_wire_tools(tuple(request.tools))
            arguments.update(self._options)
        subject = f"The LLM endpoint {self.base_url or 'api.openai.com'} (model {self._model})"
        with provider_errors(CLIENT_ERRORS, subject, provider=self.name, model=self._model):
            if on_text is None:
                return await self._complete(arguments)
            return await self._stream(arguments, on_text)

    async def _complete(self, arguments: dict[str, Any]) -> LLMReply:
        completion = await self._client.chat.completions.create(**arguments)
        if not completion.choices:
            return LLMReply(finish_reason="empty")
        choice = completion.choices[0]
        calls = tuple(
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
            for call in choice.message.tool_calls or ()
            if call.type == "function"
        )
        usage = completion.usage
        return LLMReply(
            text=choice.message.content or "",
            tool_calls=calls,
            finish_reason=choice.finish_reason or "stop",
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else None,
        )

    async def _stream(self, arguments: dict[str, Any], on_text: TextSink) -> LLMReply:
        stream = await self._client.chat.completions.create(**arguments, stream=True)
        text: list[str] = []
        partial: dict[int, _PartialCall] = {}
        finish_reason = "stop"
        usage: Usage | None = None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices[:1]:
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    await on_text(delta.content)
                for fragment in delta.tool_calls or ():
                    call = partial.setdefault(fragment.index, _PartialCall())
                    call.id = fragment.id or call.id
                    if fragment.function is not None:
                        call.name = fragment.function.name or call.name
                        call.arguments.append(fragment.function.arguments or "")
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
        calls = tuple(
            ToolCall(id=call.id or f"call_{index}", name=call.name, arguments="".join(call.arguments))
            for index, call in sorted(partial.items())
        )
        return LLMReply(text="".join(text), tool_calls=calls, finish_reason=finish_reason, usage=usage)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.close()
