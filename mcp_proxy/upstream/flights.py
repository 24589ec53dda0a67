"""The client requests in flight on one upstream session, and who answers what the server sends.

A server's log messages and its requests (sampling, elicitation, roots) carry no reference to the
client request that caused them. While exactly one client request is in flight on the session,
they belong to it. Otherwise:

- of several, the one not suspended until its client answers an input round, if there is one;
- a session opened for one client (`isolation = "per-client"`) has an owner, who is asked;
- a shared session asks the only client connected, when there is exactly one that can answer;
- a `roots/list` nobody can answer gets the configured roots (`roots`, else `[proxy] roots`);
- anything else is refused with an error that says why and which setting changes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.client import ClientRequestContext
from mcp.client.session import ElicitationFnT, ListRootsFnT, LoggingFnT, MessageHandlerFnT, SamplingFnT

from manifold_common.logging import get_logger

from ..config.models import ServerConfig
from .caller import Caller, ClientDirectory, ClientLine, ImmediateLog, no_caller_error, unsolicited_error

log = get_logger(__name__)

ROOTS = "roots/list"


@dataclass(frozen=True)
class SessionHandlers:
    """What the proxy does with everything an upstream sends on its own initiative."""

    on_message: MessageHandlerFnT
    on_log: LoggingFnT
    on_sampling: SamplingFnT
    on_elicitation: ElicitationFnT
    on_roots: ListRootsFnT
    log_at_once: Callable[[dict[str, Any]], bool]
    """Delivers a log message to the call in flight without waiting, where it can (`lane.route_logs`)."""


class Flights:
    """The client requests in flight on one upstream session, for routing what the server sends back."""

    def __init__(
        self, config: ServerConfig, directory: ClientDirectory | None = None, owner: ClientLine | None = None
    ) -> None:
        self.server = config.name
        self._own_roots = config.roots
        self._outside_call_timeout = config.max_timeout
        self._directory = directory or ClientDirectory()
        self._owner = owner
        self.calls: list[Caller] = []
        self.asked_roots = False  # the server asked for roots: tell it when they change
        self.last_active = time.monotonic()

    def caller(self) -> Caller | None:
        """The call in flight what the server sends belongs to, or None when that cannot be told.

        It is the one call in flight; of several, the only one not suspended until its client
        answers (a suspended call is blocked on that client, so it is not the one asking).
        """
        if len(self.calls) <= 1:
            return self.calls[0] if self.calls else None
        running = [call for call in self.calls if not call.awaiting_client]
        return running[0] if len(running) == 1 else None

    @contextmanager
    def carrying(self, caller: Caller | None) -> Generator[None]:
        """Count `caller`'s request as in flight on this session for the block."""
        self.last_active = time.monotonic()
        if caller is None:
            yield
            return
        self.calls.append(caller)
        try:
            yield
        finally:
            self.calls.remove(caller)
            self.last_active = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended here; 0 while one is in flight."""
        return 0.0 if self.calls else time.monotonic() - self.last_active

    def configured_roots(self) -> list[str]:
        """The server's own roots setting, else the proxy's."""
        return self._own_roots if self._own_roots is not None else self._directory.default_roots()

    async def answer(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Answer a server-to-client request by the rules of this module."""
        method = request.method
        if method == ROOTS:
            self.asked_roots = True
        roots = self.configured_roots() if method == ROOTS else []
        call = self.caller()
        # The caller's own refusal (its era, its capabilities) says best why it cannot answer.
        if call is not None and (not roots or call.can_answer(method)):
            return await call.ask(request)
        line = self._owner if self._owner is not None or self.calls else self._directory.sole_client()
        if line is not None and line.can_answer(method):
            log.info("upstream_request_outside_call", server=self.server, method=method, answered_by="client")
            # No call bounds this one: a client that never answers must not hold it forever.
            with anyio.move_on_after(self._outside_call_timeout):
                return await line.ask(request)
            return types.ErrorData(
                code=types.INTERNAL_ERROR,
                message=f"the client did not answer {method} within {self._outside_call_timeout:g} s",
            )
        if roots:
            log.info("upstream_request_outside_call", server=self.server, method=method, answered_by="roots")
            return types.ListRootsResult(roots=[types.Root.model_validate({"uri": uri}) for uri in roots])
        error = (
            no_caller_error(self.server, method, len(self.calls))
            if len(self.calls) > 1
            else unsolicited_error(self.server, method, self._why_nobody(line))
        )
        log.info("upstream_request_refused", server=self.server, method=method, reason=error.message)
        return error

    def _why_nobody(self, line: ClientLine | None) -> str:
        if line is not None:
            return "the client that could be asked does not support it"
        count = self._directory.askable_clients()
        if count == 0:
            return "no client that can be asked is connected"
        return f"{count} clients are connected, so the proxy cannot tell which one should answer"

    def log_at_once(self, params: dict[str, Any]) -> bool:
        """Deliver a log message to the call in flight now, if it is one that writes without waiting."""
        call = self.caller()
        if not isinstance(call, ImmediateLog):
            return False
        call.log_notice(params)
        return True

    def handlers(self, on_message: MessageHandlerFnT) -> SessionHandlers:
        """Session callbacks that route the server's messages by the rules of this module."""

        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            call = self.caller()
            if call is not None:
                await call.log(params)
            else:
                log.info("upstream_log", server=self.server, level=params.level, logger=params.logger)

        async def on_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
            return await self.answer(types.CreateMessageRequest(params=params))

        async def on_elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
            return await self.answer(types.ElicitRequest(params=params))

        async def on_roots(context: ClientRequestContext) -> Any:
            return await self.answer(types.ListRootsRequest())

        return SessionHandlers(on_message, on_log, on_sampling, on_elicitation, on_roots, self.log_at_once)
