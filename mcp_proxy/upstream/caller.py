"""What an upstream connection needs from the client request it forwards: the way back to that client.

While a request is forwarded, the upstream server may report progress, write log messages and ask
the client things (sampling, elicitation, roots). The upstream side relays those through a `Caller`
and never learns what a client or a front transport is: the front implements this protocol
(`front.downstream.DownstreamCall`) and hands one in with each forwarded request.

A server-initiated request that cannot be tied to exactly one caller is refused with
`no_caller_error`, which tells the server (and, through it, the user) why and what to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import mcp_types as types


class Caller(Protocol):
    """The client request being forwarded, as far as the upstream side is concerned."""

    @property
    def connection_key(self) -> int:
        """Identifies the client connection the request came on (one session each under per-client isolation)."""
        ...

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        """Run `callback` when that client connection ends."""
        ...

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Relay the server's progress on the request to the client."""
        ...

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Relay a log message the server wrote while the request ran."""
        ...

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Put a server-to-client request (sampling, elicitation, roots) to the client; return its answer."""
        ...


def no_caller_error(server: str, method: str, in_flight: int) -> types.ErrorData:
    """The answer to a server-to-client request that cannot be tied to one client request."""
    if in_flight == 0:
        reason = "no client request to that server is in flight"
    else:
        reason = (
            f"{in_flight} client requests to that server are in flight, so the proxy cannot tell which client "
            f"should answer; set isolation = \"per-client\" for server '{server}' to give each client its own session"
        )
    return types.ErrorData(code=types.INVALID_REQUEST, message=f"server '{server}' sent {method}, but {reason}")
