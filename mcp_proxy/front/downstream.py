"""The downstream side of one forwarded request: everything an upstream says while it runs.

While the proxy forwards a call, the upstream may report progress, write log messages and ask
the client things (sampling, elicitation, roots). `DownstreamCall` relays each of those to the
client whose request is in flight, on that request's own stream, and lets the forwarding code
wait until every relay has been written before it returns the result, so the client sees them
in the order the upstream sent them. It is the front's implementation of the upstream side's
`Caller` protocol (`upstream/caller.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from manifold_common.logging import get_logger

from ..upstream.caller import ClientIdentity, ClientLine
from ..upstream.gate import Deadline
from .asking import RelayCount, SessionLine, ask_session, can_answer, mid_call_refusal
from .clients import client_identity, on_connection_closed

log = get_logger(__name__)

T = TypeVar("T")

# A relay that cannot be written within this long (a client that stopped reading) must not
# hold the result back forever.
RELAY_DRAIN_TIMEOUT = 5.0


_relays: set[asyncio.Task[None]] = set()  # kept until done: the loop holds only weak references


class DownstreamCall:
    """One client request being forwarded upstream, and the channel back to that client (a `Caller`)."""

    def __init__(self, ctx: ServerRequestContext[Any, Any], server: str) -> None:
        self.ctx = ctx
        self.server = server
        self._relays = RelayCount()

    @property
    def is_modern(self) -> bool:
        """Whether the client speaks the modern (2026-07-28) era, which has no back-channel."""
        return self.ctx.protocol_version in MODERN_PROTOCOL_VERSIONS

    @property
    def identity(self) -> ClientIdentity:
        """The client this request comes from (see `clients.client_identity`)."""
        return client_identity(self.ctx)

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the client connection this request came on ends."""
        on_connection_closed(self.ctx, callback)

    def line(self) -> ClientLine | None:
        """The client's connection, to ask it things outside this request (handshake-era clients only)."""
        return None if self.is_modern else SessionLine(self.ctx.session, self.server)

    def can_answer(self, method: str) -> bool:
        """Whether the client can be asked `method` during this request."""
        return not self.is_modern and can_answer(self.ctx.session, method)

    @property
    def awaiting_client(self) -> bool:
        """Never: this request's client answers on the request's own stream (or cannot be asked)."""
        return False

    def admitted(self, deadline: Deadline) -> None:
        """Nothing to do: questions asked on the request's own stream count as the server's time."""

    async def _relay(self, send: Callable[[], Awaitable[T]]) -> T:
        # Counted before the first await: the forwarding code checks the count right after the
        # upstream's result arrives, and the relay task was scheduled before that result.
        self._relays.begin()
        try:
            return await send()
        finally:
            self._relays.end()

    def _relay_soon(self, send: Callable[[], Awaitable[object]]) -> None:
        # Counted now, before the task runs: the answer may arrive before it gets its turn.
        self._relays.begin()

        async def relay() -> None:
            try:
                await send()
            except Exception as exc:  # a client gone meanwhile: nothing to relay to
                log.debug("relay_failed", server=self.server, error=str(exc) or type(exc).__name__)
            finally:
                self._relays.end()

        task = asyncio.get_running_loop().create_task(relay())
        _relays.add(task)
        task.add_done_callback(_relays.discard)

    def log_notice(self, params: dict[str, Any]) -> None:
        """Relay a log message read from the server's transport, counted at once (see `lane.route_logs`)."""
        typed = types.LoggingMessageNotificationParams.model_validate(params)
        self._relay_soon(lambda: self.log(typed))

    async def drain(self) -> None:
        """Wait until every relay started so far has been written to the client."""
        await anyio.lowlevel.checkpoint()  # let relays scheduled before the result start
        with anyio.move_on_after(RELAY_DRAIN_TIMEOUT):
            await self._relays.idle()

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Re-emit upstream progress against the client's own progress token."""
        await self._relay(lambda: self.ctx.session.report_progress(progress, total, message))

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Relay an upstream log message on this request's stream (filtered by the client's level)."""
        await self._relay(
            lambda: self.ctx.session.send_log_message(  # pyright: ignore[reportDeprecated]
                params.level, params.data, logger=params.logger, related_request_id=self.ctx.request_id
            )
        )

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Forward a server-to-client request (sampling, elicitation, roots) and return the answer."""
        return await self._relay(lambda: self._ask(request))

    async def _ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        if self.is_modern:
            return mid_call_refusal(self.server, request.method)
        return await ask_session(self.ctx.session, self.server, request, self.ctx.request_id)
