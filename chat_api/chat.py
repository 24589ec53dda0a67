"""The tool loop: ask the model, run the tools it asks for, feed the results back, until it answers.

One chat message runs at most `max_iterations` model calls. Tool calls from one model turn run
concurrently through the MCP link; their results go back in the order the model asked. Nothing
a model does wrong crashes the loop: an unknown tool, arguments that are not a JSON object, a
server that is down or a tool that fails all become tool results marked as errors, which the
model reads and can recover from. Only an unusable LLM (502) or an MCP server that is down
before the chat starts (503) end a chat with an error; in both cases the conversation's
history is left as it was.

Progress is reported through an optional event sink, which the streaming endpoint turns into
server-sent events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import MCPError

from manifold_common.logging import get_logger

from .context import system_prompt, tool_specs
from .errors import LinkUnavailable, LLMError
from .history import ConversationStore
from .inventory import Inventory
from .llm import NOT_CONFIGURED_MESSAGE
from .llm.base import (
    AssistantMessage,
    LLMProvider,
    LLMReply,
    LLMRequest,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from .mcp_link import McpLink
from .metrics import ChatMetrics
from .tool_names import ToolNameMap
from .tool_results import error_text, result_text

log = get_logger(__name__)

ITERATION_CAP_MESSAGE = (
    "I stopped after {n} rounds of tool calls without reaching a final answer. "
    "Ask me to continue, or narrow the question."
)


SHOWN_RESULT_CHARS = 4000
"""How much of a tool result a streamed `tool_call_finished` event carries for display."""


@dataclass(frozen=True)
class TextDelta:
    """A piece of the assistant's text as it is generated."""

    text: str


@dataclass(frozen=True)
class ToolStarted:
    """A tool call is about to run."""

    call_id: str
    name: str
    server: str | None
    arguments: Any


@dataclass(frozen=True)
class ToolProgress:
    """A running tool reported progress."""

    call_id: str
    name: str
    server: str | None
    progress: float
    total: float | None
    message: str | None


@dataclass(frozen=True)
class ToolFinished:
    """A tool call ended (successfully or not)."""

    call_id: str
    name: str
    server: str | None
    is_error: bool
    duration_ms: int
    result: str = ""
    """What the tool returned as the model sees it, cut to `SHOWN_RESULT_CHARS` for display."""


ChatEvent = TextDelta | ToolStarted | ToolProgress | ToolFinished
EventSink = Callable[[ChatEvent], Awaitable[None]]


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of a chat, for the response metadata."""

    call_id: str
    name: str
    server: str | None
    is_error: bool
    duration_ms: int


@dataclass(frozen=True)
class ChatOutcome:
    """The answer to one chat message and what it took."""

    conversation_id: str
    response: str
    mode: str | None
    duration_ms: int
    finish_reason: str
    provider: str | None = None
    model: str | None = None
    iterations: int = 0
    tool_calls: tuple[ToolCallRecord, ...] = ()

    @property
    def tools_used(self) -> list[str]:
        """The MCP names of the tools called, each once, in the order first called."""
        return list(dict.fromkeys(record.name for record in self.tool_calls))

    @property
    def servers_used(self) -> list[str]:
        """The servers whose tools were called (from the tools' origin), sorted."""
        return sorted({record.server for record in self.tool_calls if record.server})


@dataclass
class _Turn:
    conversation_id: str
    history: list[Message]
    messages: list[Message] = field(default_factory=list[Message])
    records: list[ToolCallRecord] = field(default_factory=list[ToolCallRecord])


class ChatEngine:
    """Runs chat messages against one LLM provider and one MCP link."""

    def __init__(
        self,
        link: McpLink,
        llm: LLMProvider | None,
        history: ConversationStore,
        *,
        max_iterations: int = 8,
        ready_wait: float = 3.0,
        metrics: ChatMetrics | None = None,
    ) -> None:
        self.link = link
        self.llm = llm
        self.history = history
        self.max_iterations = max_iterations
        self.ready_wait = ready_wait
        self.metrics = metrics or ChatMetrics()

    async def chat(
        self, message: str, conversation_id: str | None = None, events: EventSink | None = None
    ) -> ChatOutcome:
        """Answer one user message in a conversation (a new one when `conversation_id` is None).

        Raises:
            LinkUnavailable: the MCP server is not connected when the chat starts.
            LLMError: the LLM could not be reached or answered with an error.
        """
        started = time.monotonic()
        conversation_id = conversation_id or self.history.new_id()
        mode = self.link.inventory.mode if self.link.inventory else None
        llm = self.llm
        if llm is None:
            return ChatOutcome(conversation_id, NOT_CONFIGURED_MESSAGE, mode, _ms_since(started), "not_configured")
        await self.link.wait_ready(self.ready_wait)
        _, inventory = self.link.require()
        async with self.history.lock(conversation_id):
            turn = _Turn(conversation_id, self.history.messages(conversation_id), [UserMessage(message)])
            response, finish_reason, iterations = await self._loop(llm, turn, inventory, events)
            self.history.add_turn(conversation_id, turn.messages)
        outcome = ChatOutcome(
            conversation_id=conversation_id,
            response=response,
            mode=inventory.mode,
            duration_ms=_ms_since(started),
            finish_reason=finish_reason,
            provider=llm.name,
            model=llm.model,
            iterations=iterations,
            tool_calls=tuple(turn.records),
        )
        self.metrics.tool_loop_iterations.observe(iterations)
        self.metrics.chat_duration.observe(outcome.duration_ms / 1000)
        log.info(
            "chat_finished",
            conversation_id=conversation_id,
            iterations=iterations,
            tools_called=len(outcome.tool_calls),
            servers_used=outcome.servers_used,
            finish_reason=finish_reason,
            duration_ms=outcome.duration_ms,
        )
        return outcome

    async def _loop(
        self, llm: LLMProvider, turn: _Turn, inventory: Inventory, events: EventSink | None
    ) -> tuple[str, str, int]:
        on_text = _text_sink(events)
        for iteration in range(1, self.max_iterations + 1):
            # The inventory may change between model calls (list_changed); the link keeps the latest.
            inventory = self.link.inventory or inventory
            names = ToolNameMap.build(t.name for t in inventory.tools)
            servers = inventory.server_details(healthy=self.link.ready)
            request = LLMRequest(
                system=system_prompt(inventory, servers),
                messages=[*turn.history, *turn.messages],
                tools=tool_specs(inventory, names),
            )
            reply = await self._ask(llm, request, on_text)
            if not reply.tool_calls:
                turn.messages.append(AssistantMessage(text=reply.text))
                return reply.text, reply.finish_reason, iteration
            if iteration == self.max_iterations:
                break
            turn.messages.append(AssistantMessage(text=reply.text, tool_calls=reply.tool_calls))
            turn.messages.extend(await self._run_calls(reply.tool_calls, names, inventory, turn, events))
        capped = ITERATION_CAP_MESSAGE.format(n=self.max_iterations)
        turn.messages.append(AssistantMessage(text=capped))
        return capped, "iteration_cap", self.max_iterations

    async def _ask(
        self, llm: LLMProvider, request: LLMRequest, on_text: Callable[[str], Awaitable[None]] | None
    ) -> LLMReply:
        started = time.monotonic()
        try:
            reply = await llm.complete(request, on_text)
        except LLMError as exc:
            self.metrics.llm_requests.labels(llm.name, llm.model, exc.code).inc()
            log.warning("llm_request_failed", provider=llm.name, model=llm.model, error=exc.message)
            raise
        finally:
            self.metrics.llm_duration.labels(llm.name).observe(time.monotonic() - started)
        self.metrics.llm_requests.labels(llm.name, llm.model, "ok").inc()
        if reply.usage is not None:
            self.metrics.llm_tokens.labels(llm.name, "input").inc(reply.usage.input_tokens)
            self.metrics.llm_tokens.labels(llm.name, "output").inc(reply.usage.output_tokens)
        return reply

    async def _run_calls(
        self,
        calls: tuple[ToolCall, ...],
        names: ToolNameMap,
        inventory: Inventory,
        turn: _Turn,
        events: EventSink | None,
    ) -> list[ToolResultMessage]:
        done: list[tuple[ToolResultMessage, ToolCallRecord] | None] = [None] * len(calls)

        async def run(index: int, call: ToolCall) -> None:
            done[index] = await self._run_call(call, names, inventory, events)

        async with anyio.create_task_group() as tg:
            for index, call in enumerate(calls):
                tg.start_soon(run, index, call)
        # Results go back (and are reported) in the order the model asked, whatever finished first.
        finished = [pair for pair in done if pair is not None]
        turn.records.extend(record for _, record in finished)
        return [message for message, _ in finished]

    async def _run_call(
        self, call: ToolCall, names: ToolNameMap, inventory: Inventory, events: EventSink | None
    ) -> tuple[ToolResultMessage, ToolCallRecord]:
        started = time.monotonic()
        mcp_name = names.mcp_name(call.name)
        tool = inventory.tools_by_name.get(mcp_name) if mcp_name else None
        server = tool.server if tool else None
        shown_name = mcp_name or call.name
        arguments, problem = parse_arguments(call.arguments)
        if tool is None:
            problem = f"There is no tool named '{call.name}'. Use one of the tools you were given."
        await _emit(events, ToolStarted(call.id, shown_name, server, arguments if problem is None else call.arguments))
        if problem is not None:
            text, is_error = error_text(problem), True
        else:
            text, is_error = await self._call_tool(call, shown_name, server, arguments, events)
        duration_ms = _ms_since(started)
        self.metrics.tool_calls.labels(server or "unknown", "error" if is_error else "ok").inc()
        self.metrics.tool_duration.labels(server or "unknown").observe(duration_ms / 1000)
        log.info("tool_call_finished", tool=shown_name, server=server, is_error=is_error, duration_ms=duration_ms)
        shown = text if len(text) <= SHOWN_RESULT_CHARS else text[:SHOWN_RESULT_CHARS] + "…"
        await _emit(events, ToolFinished(call.id, shown_name, server, is_error, duration_ms, shown))
        record = ToolCallRecord(call.id, shown_name, server, is_error, duration_ms)
        return ToolResultMessage(call_id=call.id, name=call.name, content=text, is_error=is_error), record

    async def _call_tool(
        self, call: ToolCall, name: str, server: str | None, arguments: dict[str, Any] | None, events: EventSink | None
    ) -> tuple[str, bool]:
        async def report(progress: float, total: float | None, message: str | None) -> None:
            await _emit(events, ToolProgress(call.id, name, server, progress, total, message))

        try:
            result = await self.link.call_tool(name, arguments, report if events is not None else None)
        except LinkUnavailable as exc:
            return error_text(exc.message), True
        except MCPError as exc:
            return error_text(f"The server rejected the call to '{name}': {exc.message}"), True
        except Exception as exc:  # a malformed result must not end the chat; the model is told instead
            log.warning("tool_call_failed", tool=name, error=repr(exc))
            return error_text(f"The call to '{name}' failed: {type(exc).__name__}: {exc}"), True
        return result_text(result), bool(result.is_error)


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The model's argument text as a JSON object, or the problem with it (for the model to read)."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, (
            f"The arguments are not valid JSON ({exc.msg} at position {exc.pos}). "
            "Call the tool again with a JSON object that matches its input schema."
        )
    if not isinstance(value, dict):
        return None, f"The arguments must be a JSON object, not {type(value).__name__}. Call the tool again."
    return value, None  # pyright: ignore[reportUnknownVariableType]


async def _emit(events: EventSink | None, event: ChatEvent) -> None:
    if events is not None:
        await events(event)


def _text_sink(events: EventSink | None) -> Callable[[str], Awaitable[None]] | None:
    if events is None:
        return None

    async def on_text(text: str) -> None:
        await events(TextDelta(text))

    return on_text


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
