"""The downstream side of one forwarded request: everything an upstream says while it runs.

While the proxy forwards a call, the upstream may report progress, write log messages and ask
the client things (sampling, elicitation, roots). `DownstreamCall` relays each of those to the
client whose request is in flight, on that request's own stream, and lets the forwarding code
wait until every relay has been written before it returns the result, so the client sees them
in the order the upstream sent them. It is the front's implementation of the upstream side's
`Caller` protocol (`upstream/caller.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from manifold_common.logging import get_logger

from .clients import connection_key, on_connection_closed

log = get_logger(__name__)

T = TypeVar("T")

# A relay that cannot be written within this long (a client that stopped reading) must not
# hold the result back forever.
RELAY_DRAIN_TIMEOUT = 5.0

_CAPABILITY_FOR: dict[str, tuple[str, types.ClientCapabilities]] = {
    "sampling/createMessage": ("sampling", types.ClientCapabilities(sampling=types.SamplingCapability())),
    "elicitation/create": ("elicitation", types.ClientCapabilities(elicitation=types.ElicitationCapability())),
    "roots/list": ("roots", types.ClientCapabilities(roots=types.RootsCapability())),
}


class DownstreamCall:
    """One client request being forwarded upstream, and the channel back to that client (a `Caller`)."""

    def __init__(self, ctx: ServerRequestContext[Any, Any], server: str) -> None:
        self.ctx = ctx
        self.server = server
        self._pending = 0
        self._idle = anyio.Event()
        self._idle.set()

    @property
    def is_modern(self) -> bool:
        """Whether the client speaks the modern (2026-07-28) era, which has no back-channel."""
        return self.ctx.protocol_version in MODERN_PROTOCOL_VERSIONS

    @property
    def connection_key(self) -> int:
        """Identifies the client connection this request came on."""
        return connection_key(self.ctx)

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the client connection this request came on ends."""
        on_connection_closed(self.ctx, callback)

    async def _relay(self, send: Callable[[], Awaitable[T]]) -> T:
        # Counted before the first await: the forwarding code checks the count right after the
        # upstream's result arrives, and the relay task was scheduled before that result.
        self._pending += 1
        self._idle = anyio.Event() if self._pending == 1 else self._idle
        try:
            return await send()
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    async def drain(self) -> None:
        """Wait until every relay started so far has been written to the client."""
        await anyio.lowlevel.checkpoint()  # let relays scheduled before the result start
        with anyio.move_on_after(RELAY_DRAIN_TIMEOUT):
            await self._idle.wait()

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
        method = request.method
        if self.is_modern:
            return types.ErrorData(
                code=types.INVALID_REQUEST,
                message=(
                    f"server '{self.server}' sent {method} during the call, but this client speaks the 2026-07-28 "
                    "protocol, which cannot receive requests mid-call; connect with a handshake-era client "
                    "(protocol 2025-11-25) to use this tool"
                ),
            )
        feature, capability = _CAPABILITY_FOR[method]
        if not self.ctx.session.check_client_capability(capability):
            return types.ErrorData(
                code=types.INVALID_REQUEST,
                message=f"server '{self.server}' asked for {feature} ({method}), which this client does not support",
            )
        metadata = ServerMessageMetadata(related_request_id=self.ctx.request_id)
        try:
            return await _send(self.ctx, request, metadata)
        except NoBackChannelError as exc:
            return types.ErrorData(
                code=types.INVALID_REQUEST,
                message=f"server '{self.server}' sent {method}, but this client connection cannot receive requests "
                f"({exc.message})",
            )
        except MCPError as exc:
            return exc.error


async def _send(
    ctx: ServerRequestContext[Any, Any], request: types.InputRequest, metadata: ServerMessageMetadata
) -> types.InputResponse:
    session = ctx.session
    if isinstance(request, types.CreateMessageRequest):
        wants_tools = request.params.tools is not None or request.params.tool_choice is not None
        result_type = types.CreateMessageResultWithTools if wants_tools else types.CreateMessageResult
        return await session.send_request(request, result_type, metadata=metadata)
    if isinstance(request, types.ElicitRequest):
        return await session.send_request(request, types.ElicitResult, metadata=metadata)
    return await session.send_request(request, types.ListRootsResult, metadata=metadata)
