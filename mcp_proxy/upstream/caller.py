"""What an upstream connection needs from the clients it serves: the way back to them.

While a request is forwarded, the upstream server may report progress, write log messages and ask
the client things (sampling, elicitation, roots). The upstream side relays those through a `Caller`
and never learns what a client or a front transport is: the front implements these protocols
(`front.downstream.DownstreamCall`, `front.clients.Clients`) and hands a caller in with each
forwarded request.

A server may also ask while no request of a client is in flight (the filesystem server asks for
roots right after its handshake). Such a request goes to the one client that can answer
(`ClientReach.sole_client`); a `roots/list` nobody can answer is answered from the configured
roots; anything else is refused with an error that says why and which setting changes it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import mcp_types as types

if TYPE_CHECKING:
    from .gate import Deadline


@dataclass(frozen=True)
class ClientIdentity:
    """Who a request comes from, as far as `isolation = "per-client"` sessions are concerned.

    `key` is None when the client cannot be told apart from other clients, and `unknown_because`
    then says why. An identity that `ends_with_connection` is a client connection that reports
    its end (`Caller.on_connection_closed`); the session of any other identity is closed once it
    has been idle for a while. `principal` names who authenticated the request on the HTTP front
    (`<issuer>#<subject>` for an OAuth access token), whatever the key; `user` is that principal
    only when an identity provider vouched for it (an OAuth access token), not for a static token:
    it is whose own credentials a per-user server is called with.
    """

    key: Hashable | None
    ends_with_connection: bool = True
    unknown_because: str = ""
    principal: str | None = None
    user: str | None = None


class ClientLine(Protocol):
    """A client that can be asked things (sampling, elicitation, roots)."""

    def can_answer(self, method: str) -> bool:
        """Whether the client can be sent this server-to-client request at all (era and capabilities)."""
        ...

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Put a server-to-client request to the client; return its answer (or why it could not)."""
        ...


class Caller(ClientLine, Protocol):
    """The client request being forwarded, as far as the upstream side is concerned.

    Its `ask` rides the request's own stream.
    """

    @property
    def is_modern(self) -> bool:
        """Whether the client speaks the modern (2026-07-28) era: the upstream is reached in the same era."""
        ...

    @property
    def identity(self) -> ClientIdentity:
        """The client the request comes from (one session each under per-client isolation)."""
        ...

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the client connection the request came on ends."""
        ...

    def line(self) -> ClientLine | None:
        """The client's connection, to ask it things outside any of its requests (None if it cannot be)."""
        ...

    @property
    def awaiting_client(self) -> bool:
        """Whether the request is suspended until its client answers the questions it was handed.

        A 2026-07-28 client answers a pushed question in a later request of its own (an input
        round), so meanwhile the server is blocked on it: what the server sends then most likely
        belongs to another request in flight on the session.
        """
        ...

    def admitted(self, deadline: Deadline) -> None:
        """The request passed the server's gate and runs within `deadline` (held while awaiting the client)."""
        ...

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Relay the server's progress on the request to the client."""
        ...

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Relay a log message the server wrote while the request ran."""
        ...


@runtime_checkable
class ImmediateLog(Protocol):
    """A caller that writes a log message to its client without waiting (the lean relay's)."""

    def log_notice(self, params: dict[str, Any]) -> None:
        """Relay a server's log message (its wire params) to the client now."""
        ...


class ClientReach(Protocol):
    """The clients connected to the proxy, for a server's request that came outside any client request."""

    def sole_client(self) -> ClientLine | None:
        """The only client connection that can be asked anything, or None when there is none or several."""
        ...

    def askable_clients(self) -> int:
        """How many client connections could be asked (handshake-era sessions)."""
        ...

    def default_roots(self) -> list[str]:
        """The `[proxy] roots`, for a server that sets none of its own."""
        ...


class ClientDirectory:
    """Where an upstream finds the clients: empty until the front that serves them says so."""

    def __init__(self) -> None:
        self.reach: ClientReach | None = None

    def sole_client(self) -> ClientLine | None:
        """The only client connection that can be asked, if there is exactly one."""
        return self.reach.sole_client() if self.reach is not None else None

    def askable_clients(self) -> int:
        """How many client connections could be asked."""
        return self.reach.askable_clients() if self.reach is not None else 0

    def default_roots(self) -> list[str]:
        """The proxy-wide roots."""
        return self.reach.default_roots() if self.reach is not None else []


def no_caller_error(server: str, method: str, in_flight: int) -> types.ErrorData:
    """The answer to a server-to-client request sent while several client requests are in flight."""
    reason = (
        f"{in_flight} client requests to that server are in flight, so the proxy cannot tell which client "
        f"should answer; set isolation = \"per-client\" for server '{server}' to give each client its own session"
    )
    return types.ErrorData(code=types.INVALID_REQUEST, message=f"server '{server}' sent {method}, but {reason}")


def unsolicited_error(server: str, method: str, why: str) -> types.ErrorData:
    """The answer to a server-to-client request sent outside any client request that nobody can answer."""
    if method == "roots/list":
        fix = f"set roots = [\"file:///...\"] for server '{server}' (or in [proxy]) to answer it"
    else:
        fix = (
            f"set isolation = \"per-client\" for server '{server}' to give each client its own session, "
            "whose requests go to that client"
        )
    return types.ErrorData(
        code=types.INVALID_REQUEST,
        message=f"server '{server}' sent {method} while no client request to it was in flight, and {why}; {fix}",
    )
