"""The seam between what the proxy does and how it is measured.

The proxy reports events (a tool call finished, an upstream request finished, an upstream
changed state) to an `Observer`; metrics are one implementation, tests may supply another. The
default does nothing, so code paths never check whether anyone is listening.
"""

from __future__ import annotations

from typing import Literal, Protocol

ToolOutcome = Literal["ok", "tool_error", "protocol_error", "timeout", "unavailable"]
"""How a forwarded tool call ended, as seen by the client."""
RequestOutcome = Literal["ok", "error", "timeout", "unavailable"]
"""How one request to an upstream ended."""


class Observer(Protocol):
    """Receives the proxy's measurable events. Implementations must be cheap and never raise."""

    def tool_call(
        self, server: str, tool: str, outcome: ToolOutcome, seconds: float, request_bytes: int, response_bytes: int
    ) -> None:
        """A forwarded `tools/call` finished."""
        ...

    def upstream_request(self, server: str, method: str, outcome: RequestOutcome, seconds: float) -> None:
        """One request to an upstream finished."""
        ...

    def upstream_state(self, server: str, state: str, previous: str) -> None:
        """An upstream changed state (connecting, ready, degraded, down, disabled)."""
        ...


class NullObserver:
    """An observer that ignores everything."""

    def tool_call(
        self, server: str, tool: str, outcome: ToolOutcome, seconds: float, request_bytes: int, response_bytes: int
    ) -> None:
        return None

    def upstream_request(self, server: str, method: str, outcome: RequestOutcome, seconds: float) -> None:
        return None

    def upstream_state(self, server: str, state: str, previous: str) -> None:
        return None


NULL_OBSERVER = NullObserver()
