"""The seam between what the proxy does and how it is measured, and the words for how a call ended.

The proxy reports events (a client request answered, a tool call finished, an upstream request
finished, an upstream changed state) to an `Observer`; metrics are one implementation, tests may
supply another. The default does nothing, so code paths never check whether anyone is listening.

Every measured call ends with one `Outcome`, from one vocabulary shared by the metrics and the
logs; each kind of call uses the part of it that applies (only a tool call can end in
`tool_error`; a client request never ends in `timeout` or `unavailable`, because the front
answers those with an error or a tool result).
"""

from __future__ import annotations

from typing import Literal, Protocol

import anyio

from .errors import DefinitionChanged, UpstreamTimeout, UpstreamUnavailable

Outcome = Literal["ok", "tool_error", "error", "timeout", "unavailable", "cancelled", "refused"]
"""How one call ended.

- ``ok``: answered.
- ``tool_error``: a tool answered with ``isError`` (tool calls only).
- ``error``: answered with a JSON-RPC error, or failed inside the proxy.
- ``timeout``: the server did not answer in time; the call was cancelled.
- ``unavailable``: the server was not usable (down, breaker open, too busy) or dropped the
  connection during the call.
- ``cancelled``: the caller withdrew the call before it ended.
- ``refused``: the proxy would not forward it: the tool's pinned definition changed (tool calls only).
"""


def outcome_of(exc: BaseException) -> Outcome:
    """How a call that raised `exc` ended."""
    if isinstance(exc, DefinitionChanged):
        return "refused"
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    if isinstance(exc, UpstreamUnavailable):
        return "unavailable"
    if isinstance(exc, Exception):  # cancellation is not an Exception (it must not be caught as one)
        return "error"
    return "cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else "error"


class Observer(Protocol):
    """Receives the proxy's measurable events. Implementations must be cheap and never raise."""

    def client_request(self, method: str, outcome: Outcome, seconds: float) -> None:
        """The front answered one client request (any method, from any transport)."""
        ...

    def tool_call(
        self, server: str, tool: str, outcome: Outcome, seconds: float, request_bytes: int, response_bytes: int
    ) -> None:
        """A forwarded `tools/call` finished; `seconds` is the client request's own duration."""
        ...

    def upstream_request(self, server: str, method: str, outcome: Outcome, seconds: float) -> None:
        """One request to an upstream finished."""
        ...

    def upstream_state(self, server: str, state: str, previous: str) -> None:
        """An upstream changed state (connecting, ready, degraded, down, disabled)."""
        ...

    def relayed(self, method: str) -> None:
        """The lean relay answered one client request (also reported as a `client_request`)."""
        ...


class NullObserver:
    """An observer that ignores everything."""

    def client_request(self, method: str, outcome: Outcome, seconds: float) -> None:
        return None

    def tool_call(
        self, server: str, tool: str, outcome: Outcome, seconds: float, request_bytes: int, response_bytes: int
    ) -> None:
        return None

    def upstream_request(self, server: str, method: str, outcome: Outcome, seconds: float) -> None:
        return None

    def upstream_state(self, server: str, state: str, previous: str) -> None:
        return None

    def relayed(self, method: str) -> None:
        return None


NULL_OBSERVER = NullObserver()
