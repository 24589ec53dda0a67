"""Putting a server's request (sampling, elicitation, roots) to a handshake-era client.

A request rides the client request it belongs to when there is one (`related`), else the
connection's own channel (`SessionLine`: the stdio pipe, the SSE stream, the standalone GET
stream of streamable HTTP). A client that did not declare the capability, or a connection that
cannot carry requests, is not asked: the server gets an error saying why.
"""

from __future__ import annotations

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server.session import ServerSession
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.message import ServerMessageMetadata

_CAPABILITY_FOR: dict[str, tuple[str, types.ClientCapabilities]] = {
    "sampling/createMessage": ("sampling", types.ClientCapabilities(sampling=types.SamplingCapability())),
    "elicitation/create": ("elicitation", types.ClientCapabilities(elicitation=types.ElicitationCapability())),
    "roots/list": ("roots", types.ClientCapabilities(roots=types.RootsCapability())),
}


class SessionLine:
    """A handshake-era client connection, asked outside any of its requests (a `ClientLine`)."""

    def __init__(self, session: ServerSession, server: str | None = None) -> None:
        self.session = session
        self.server = server

    def can_answer(self, method: str) -> bool:
        """Whether the client declared the capability `method` needs."""
        return can_answer(self.session, method)

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Send the request on the connection's own channel and return the client's answer."""
        return await ask_session(self.session, self.server, request, None)


ASKABLE = tuple(_CAPABILITY_FOR)
"""The methods a server may ask its client: sampling, elicitation, roots."""


def can_answer(session: ServerSession, method: str) -> bool:
    """Whether the client of `session` declared the capability `method` needs (per request on 2026-07-28)."""
    return session.check_client_capability(_CAPABILITY_FOR[method][1])


def mid_call_refusal(server: str, method: str) -> types.ErrorData:
    """The answer to a server that asks a 2026-07-28 client something during a call: it cannot be asked."""
    return types.ErrorData(
        code=types.INVALID_REQUEST,
        message=(
            f"server '{server}' sent {method} during the call, but this client speaks the 2026-07-28 "
            "protocol, which cannot receive requests mid-call; connect with a handshake-era client "
            "(protocol 2025-11-25) to use this tool"
        ),
    )


class RelayCount:
    """The relays to a client still being written, and the wait until there are none."""

    def __init__(self) -> None:
        self._pending = 0
        self._idle = anyio.Event()
        self._idle.set()

    def begin(self) -> None:
        """One more relay is under way (counted at once, before any await)."""
        self._pending += 1
        self._idle = anyio.Event() if self._pending == 1 else self._idle

    def end(self) -> None:
        """A relay counted with `begin` is done."""
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until every relay begun so far has ended."""
        await self._idle.wait()


def undeclared(server: str | None, method: str) -> types.ErrorData:
    """The answer to a server that asked for a capability its client did not declare."""
    who = f"server '{server}'" if server is not None else "a server"
    feature = _CAPABILITY_FOR[method][0]
    return types.ErrorData(
        code=types.INVALID_REQUEST, message=f"{who} asked for {feature} ({method}), which this client does not support"
    )


async def ask_session(
    session: ServerSession, server: str | None, request: types.InputRequest, related: types.RequestId | None
) -> types.InputResponse | types.ErrorData:
    """Ask the client of `session` (on the stream of request `related`, if given); its answer or why not."""
    method = request.method
    who = f"server '{server}'" if server is not None else "a server"
    if not can_answer(session, method):
        return undeclared(server, method)
    metadata = ServerMessageMetadata(related_request_id=related) if related is not None else None
    try:
        return await _send(session, request, metadata)
    except NoBackChannelError as exc:
        return types.ErrorData(
            code=types.INVALID_REQUEST,
            message=f"{who} sent {method}, but this client connection cannot receive requests ({exc.message})",
        )
    except MCPError as exc:
        return exc.error


async def _send(
    session: ServerSession, request: types.InputRequest, metadata: ServerMessageMetadata | None
) -> types.InputResponse:
    if isinstance(request, types.CreateMessageRequest):
        wants_tools = request.params.tools is not None or request.params.tool_choice is not None
        result_type = types.CreateMessageResultWithTools if wants_tools else types.CreateMessageResult
        return await session.send_request(request, result_type, metadata=metadata)
    if isinstance(request, types.ElicitRequest):
        return await session.send_request(request, types.ElicitResult, metadata=metadata)
    return await session.send_request(request, types.ListRootsResult, metadata=metadata)
