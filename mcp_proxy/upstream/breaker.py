"""A circuit breaker per upstream: stop sending calls to a server that keeps failing.

closed ── N consecutive failures ──> open ── after `open_seconds` ──> half-open
  ^                                   ^                                  │
  └──────── the trial call succeeds ──┼──────────────────────────────────┘
                                      └──── the trial call fails ────────┘

While open, calls fail at once (no upstream traffic); half-open lets exactly one trial call
through and holds the others back as if still open.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class BreakerState(enum.StrEnum):
    """Where the breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Consecutive-failure circuit breaker; `threshold = 0` disables it (always closed)."""

    threshold: int
    open_seconds: float
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float | None = None
    trips: int = 0
    _trial_in_flight: bool = field(default=False, repr=False)

    def retry_in(self) -> float:
        """Seconds until the open breaker lets a trial call through (0 when not open)."""
        if self.state != BreakerState.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.open_seconds - self.clock())

    def allow(self) -> bool:
        """Whether a call may go to the server now; a True in half-open claims the single trial."""
        if self.threshold <= 0 or self.state == BreakerState.CLOSED:
            return True
        if self.state == BreakerState.OPEN and self.retry_in() <= 0:
            self.state = BreakerState.HALF_OPEN
            self._trial_in_flight = False
        if self.state == BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """A call reached the server and got an answer."""
        self.failures = 0
        self._trial_in_flight = False
        self.state = BreakerState.CLOSED
        self.opened_at = None

    def record_failure(self) -> None:
        """A call failed because of the server (timeout, lost connection)."""
        if self.threshold <= 0:
            return
        self.failures += 1
        if self.state == BreakerState.HALF_OPEN or self.failures >= self.threshold:
            self._open()

    def release_trial(self) -> None:
        """The trial call ended without telling anything about the server (e.g. the client cancelled)."""
        self._trial_in_flight = False

    def reset(self) -> None:
        """Forget every failure (a fresh connection)."""
        self.record_success()

    def _open(self) -> None:
        if self.state != BreakerState.OPEN:
            self.trips += 1
        self.state = BreakerState.OPEN
        self.opened_at = self.clock()
        self._trial_in_flight = False

    def status(self) -> dict[str, Any]:
        """A JSON-ready view for health endpoints."""
        return {
            "state": str(self.state),
            "consecutive_failures": self.failures,
            "threshold": self.threshold,
            "trips": self.trips,
            "retry_in_s": round(self.retry_in(), 2) if self.state == BreakerState.OPEN else None,
        }
