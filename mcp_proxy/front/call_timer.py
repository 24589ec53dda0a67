"""One timer per client request, shared by the metrics and the `tool_call` log line.

`CallTimer` is the outermost middleware of the proxy's MCP server: it times every request a
client sends (answers from the list cache and refusals by the SDK included), names how it ended
with the one `Outcome` vocabulary, and reports it to the `Observer`. A forwarded tool call is
reported from the same reading: while the request runs, the tool path fills in the `ToolCall`
the timer set aside for it (which server and tool, how the call ended, the result's size), and
when the request ends the timer reports the call and writes its summary line, naming the
caller's authenticated principal when there is one (never a token; not a metric label, which
would grow with every user).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from manifold_common.logging import get_logger

from ..core.observe import Observer, Outcome, outcome_of
from ..core.sizes import payload_size
from .auth import principal_of

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
MessageWatcher = Callable[[Ctx], None]

TOOLS_CALL = "tools/call"


class ToolCall:
    """What the tool path learns about one forwarded tool call, for the timer to report."""

    __slots__ = ("arguments", "outcome", "response_bytes", "server", "tool")

    def __init__(self) -> None:
        self.server = ""  # stays empty for a call refused before it was routed
        self.tool = ""
        self.arguments: dict[str, Any] | None = None
        self.outcome: Outcome | None = None
        self.response_bytes = 0

    def routed(self, server: str, tool: str, arguments: dict[str, Any] | None) -> None:
        """The call goes to `tool` (its upstream name) on `server`."""
        self.server, self.tool, self.arguments = server, tool, arguments

    def ended(self, outcome: Outcome, response_bytes: int) -> None:
        """The call produced its answer (a result, or a tool error standing for a failure)."""
        self.outcome, self.response_bytes = outcome, response_bytes


_current_tool_call: ContextVar[ToolCall | None] = ContextVar("current_tool_call", default=None)


def current_tool_call() -> ToolCall:
    """The record of the tool call this request is, for the tool path to fill in.

    Outside a request timed by a `CallTimer` the record is a fresh one that nobody reports.
    """
    return _current_tool_call.get() or ToolCall()


class CallTimer:
    """The server middleware that times each client request once and reports it."""

    def __init__(self, observer: Observer) -> None:
        self._observer = observer
        self._watcher: MessageWatcher | None = None

    def watch_messages(self, watcher: MessageWatcher) -> None:
        """Show `watcher` every message a client sends (requests and notifications) as it arrives."""
        self._watcher = watcher

    async def __call__(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        if self._watcher is not None:
            self._watcher(ctx)
        if ctx.request_id is None:  # a notification: nothing answers it, nothing to time
            return await call_next(ctx)
        method = ctx.method
        tool_call = ToolCall() if method == TOOLS_CALL else None
        token = _current_tool_call.set(tool_call) if tool_call is not None else None
        started = time.perf_counter()
        outcome: Outcome = "ok"
        try:
            return await call_next(ctx)
        except BaseException as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            seconds = time.perf_counter() - started
            if token is not None:
                _current_tool_call.reset(token)
            self._observer.client_request(method, outcome, seconds)
            if tool_call is not None and tool_call.server:
                self._report_tool_call(ctx, tool_call, outcome, seconds)

    def _report_tool_call(self, ctx: Ctx, call: ToolCall, outcome: Outcome, seconds: float) -> None:
        # A request that failed (an upstream's JSON-RPC error, a cancellation) ended the call too.
        if outcome == "ok" and call.outcome is not None:
            outcome = call.outcome
        principal = principal_of(ctx.request)
        report_tool_call(
            self._observer,
            ToolCallReport(call.server, call.tool, outcome, seconds, call.arguments, call.response_bytes),
            principal.name if principal is not None else None,
        )


@dataclass(frozen=True, slots=True)
class ToolCallReport:
    """How one forwarded tool call went, as its metrics and its summary line tell it."""

    server: str
    tool: str
    outcome: Outcome
    seconds: float
    arguments: Any
    response_bytes: int


def report_tool_call(observer: Observer, call: ToolCallReport, principal: str | None) -> None:
    """Record a forwarded tool call: its metrics and one `tool_call` line (argument values only at debug)."""
    request_bytes = payload_size(call.arguments)
    observer.tool_call(call.server, call.tool, call.outcome, call.seconds, request_bytes, call.response_bytes)
    log.info(
        "tool_call",
        server=call.server,
        tool=call.tool,
        outcome=call.outcome,
        duration_ms=round(call.seconds * 1000, 2),
        request_bytes=request_bytes,
        response_bytes=call.response_bytes,
        **({"principal": principal} if principal is not None else {}),
    )
    log.debug("tool_call_arguments", server=call.server, tool=call.tool, arguments=call.arguments)
