"""The `requestState` of the proxy's own input rounds: opaque to clients, tamper-evident.

When the proxy turns questions an upstream pushed into an `InputRequiredResult`
(`input_rounds.py`), the state it hands the client names the suspended upstream call (a
*flight*, by a random id) and the round it answers. The client must echo it unchanged; the
proxy seals it with HMAC-SHA256 under a key made when the process starts, so an altered state, a
forged one, or one issued by an earlier run of the proxy fails its check. Nothing else is in it:
who may resume the flight, and which request it belongs to, stay in the proxy's memory.

Format: ``manifold-round.1.<flight>.<round>.<mac>``, where ``<mac>`` is the unpadded base64url
HMAC of ``<flight>.<round>``. The prefix tells the proxy's states from an upstream's own, which
the proxy passes through untouched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import mcp_types as types
from mcp import MCPError

STATE_PREFIX = "manifold-round.1."
START_OVER = "call again without requestState and inputResponses to start over"


def new_flight_id() -> str:
    """A fresh, unguessable flight id (base64url: no dots)."""
    return secrets.token_urlsafe(16)


class StateSeal:
    """Seals and opens the proxy's request states with a per-process secret key."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    @staticmethod
    def claims(state: str) -> bool:
        """Whether `state` is in the proxy's format (so it is the proxy's to check, not an upstream's)."""
        return state.startswith(STATE_PREFIX)

    def seal(self, flight: str, round_no: int) -> str:
        """The state naming round `round_no` of `flight`."""
        body = f"{flight}.{round_no}"
        return f"{STATE_PREFIX}{body}.{self._mac(body)}"

    def open(self, state: str) -> tuple[str, int]:
        """The flight and round a state names.

        Raises:
            MCPError: -32602 when the state fails its integrity check (altered, forged, or from an
                earlier run of the proxy).
        """
        body, _, mac = state.removeprefix(STATE_PREFIX).rpartition(".")
        flight, _, round_text = body.rpartition(".")
        if not flight or not round_text.isdigit() or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise MCPError(
                types.INVALID_PARAMS,
                "requestState failed its integrity check: it was altered, or issued by an earlier run of the "
                f"proxy; {START_OVER}",
            )
        return flight, int(round_text)

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
