"""Admission and deadlines for the calls to one upstream: circuit breaker, concurrency, timeouts.

Every forwarded request passes through its server's gate. The gate refuses at once while the
breaker is open, queues the request when the server already has `max_concurrency` calls in flight
(failing it after `queue_timeout`), and bounds it with the server's `timeout` — which progress
notifications from the server may push back, never past `max_timeout`. A request that runs out of
time is cancelled, which cancels it upstream too. While the server waits for a client that
answers its questions in a later request of its own (input rounds, `front/input_rounds.py`), the
timeout stands still: that time is the client's, and the client is bounded on its own.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.shared.dispatcher import ProgressFnT

from ..config.policy import ServerPolicy
from ..core.errors import UpstreamTimeout, UpstreamUnavailable
from .breaker import BreakerState, CircuitBreaker


class Deadline:
    """The time limit of one request, extended by progress when the policy allows it."""

    def __init__(self, timeout: float, hard_limit: float, extend_on_progress: bool) -> None:
        now = anyio.current_time()
        self.timeout = timeout
        self._hard_deadline = now + max(timeout, hard_limit)
        self._extend = extend_on_progress
        self._held_left: float | None = None  # the time left when `hold` stopped the clock
        self.scope = anyio.CancelScope(deadline=min(now + timeout, self._hard_deadline))

    def touch(self) -> None:
        """The server showed signs of life: restart the timeout (up to the hard limit)."""
        if not self._extend:
            return
        if self._held_left is not None:
            self._held_left = self.timeout
        else:
            self.scope.deadline = min(anyio.current_time() + self.timeout, self._hard_deadline)

    def hold(self) -> None:
        """The server is waiting for the client, not working: stop its timeout (the hard limit runs on)."""
        if self._held_left is None:
            self._held_left = max(0.0, self.scope.deadline - anyio.current_time())
            self.scope.deadline = self._hard_deadline

    def release(self) -> None:
        """The client answered: the timeout runs on from where `hold` stopped it."""
        if self._held_left is not None:
            self.scope.deadline = min(anyio.current_time() + self._held_left, self._hard_deadline)
            self._held_left = None

    def relaying(self, relay: ProgressFnT | None) -> ProgressFnT:
        """A progress callback that extends the deadline, then passes the progress on."""

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self.touch()
            if relay is not None:
                await relay(progress, total, message)

        return on_progress


class CallGate:
    """The breaker, the concurrency limit and the timeouts of one server."""

    def __init__(self, server: str, policy: ServerPolicy, timeout: float) -> None:
        self.server = server
        self.policy = policy
        self.timeout = timeout
        self.breaker = CircuitBreaker(policy.breaker_failures, policy.breaker_open_seconds)
        self._slots = anyio.Semaphore(policy.max_concurrency) if policy.max_concurrency > 0 else None
        self.in_flight = 0
        self.queued = 0

    @asynccontextmanager
    async def admit(self, *, extendable: bool = True) -> AsyncGenerator[Deadline]:
        """Hold one slot for a request and bound it in time.

        Raises:
            UpstreamUnavailable: the breaker is open, or the queue wait ran out.
            UpstreamTimeout: the request did not finish in time (it has been cancelled).
        """
        if not self.breaker.allow():
            raise UpstreamUnavailable(
                self.server,
                f"is failing: its circuit breaker opened after {self.breaker.threshold} consecutive failures; "
                f"retry in {_seconds(self.breaker.retry_in())}",
            )
        trial = self.breaker.state == BreakerState.HALF_OPEN
        acquired = await self._acquire()
        deadline = Deadline(self.timeout, self.policy.max_timeout, extendable and self.policy.progress_extends_timeout)
        self.in_flight += 1
        finished = False
        try:
            with deadline.scope:
                yield deadline
                finished = True
        finally:
            self.in_flight -= 1
            if acquired and self._slots is not None:
                self._slots.release()
            if trial and not finished and not deadline.scope.cancelled_caught:
                self.breaker.release_trial()
        if deadline.scope.cancelled_caught:
            self.breaker.record_failure()
            raise UpstreamTimeout(self.server, f"did not answer within {self.timeout:g} s; the call was cancelled")

    async def _acquire(self) -> bool:
        if self._slots is None:
            return False
        self.queued += 1
        try:
            with anyio.fail_after(self.policy.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamUnavailable(
                self.server,
                f"is busy: {self.policy.max_concurrency} calls already in flight and this one waited "
                f"{self.policy.queue_timeout:g} s for a slot (max_concurrency)",
            ) from None
        finally:
            self.queued -= 1
        return True

    def status(self) -> dict[str, Any]:
        """Breaker state and load, for health endpoints."""
        return {
            "breaker": self.breaker.status(),
            "in_flight": self.in_flight,
            "queued": self.queued,
            "max_concurrency": self.policy.max_concurrency or None,
        }


def _seconds(delay: float) -> str:
    return "under a second" if delay < 1 else f"~{delay:.0f} s"
