"""The circuit breaker: consecutive failures open it, time half-opens it, one trial decides."""

from __future__ import annotations

from mcp_proxy.upstream.breaker import BreakerState, CircuitBreaker


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened(threshold: int = 3, open_seconds: float = 10.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold, open_seconds, clock=clock)
    for _ in range(threshold):
        breaker.record_failure()
    return breaker, clock


def test_fewer_consecutive_failures_than_the_threshold_keep_it_closed() -> None:
    breaker = CircuitBreaker(3, 10.0, clock=FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == BreakerState.CLOSED
    assert breaker.allow()


def test_a_success_forgets_earlier_failures() -> None:
    breaker = CircuitBreaker(3, 10.0, clock=FakeClock())
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == BreakerState.CLOSED
    assert breaker.failures == 2


def test_the_threshold_of_consecutive_failures_opens_it_and_calls_are_refused() -> None:
    breaker, _ = opened(threshold=3)
    assert breaker.state == BreakerState.OPEN
    assert breaker.trips == 1
    assert not breaker.allow()
    assert not breaker.allow()


def test_retry_in_counts_down_the_open_period() -> None:
    breaker, clock = opened(open_seconds=10.0)
    assert breaker.retry_in() == 10.0
    clock.now += 4
    assert breaker.retry_in() == 6.0
    clock.now += 100
    assert breaker.retry_in() == 0.0


def test_after_the_open_period_exactly_one_trial_call_is_let_through() -> None:
    breaker, clock = opened(open_seconds=10.0)
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert breaker.state == BreakerState.HALF_OPEN
    assert not breaker.allow()  # the others wait for the trial's verdict


def test_a_successful_trial_closes_it() -> None:
    breaker, clock = opened()
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.allow() and breaker.allow()


def test_a_failed_trial_opens_it_again_for_a_full_period() -> None:
    breaker, clock = opened(open_seconds=10.0)
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == BreakerState.OPEN
    assert breaker.trips == 2
    assert breaker.retry_in() == 10.0
    assert not breaker.allow()


def test_a_released_trial_lets_the_next_call_be_the_trial() -> None:
    breaker, clock = opened()
    clock.now += 10
    assert breaker.allow()
    breaker.release_trial()  # e.g. the client cancelled it: it proved nothing
    assert breaker.state == BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_a_threshold_of_zero_disables_it() -> None:
    breaker = CircuitBreaker(0, 10.0, clock=FakeClock())
    for _ in range(50):
        breaker.record_failure()
    assert breaker.state == BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.allow()


def test_reset_forgets_everything_after_a_fresh_connection() -> None:
    breaker, _ = opened()
    breaker.reset()
    assert breaker.state == BreakerState.CLOSED
    assert breaker.opened_at is None
    assert breaker.allow()


def test_status_shows_state_failures_threshold_trips_and_retry_time() -> None:
    breaker, clock = opened(threshold=2, open_seconds=5.0)
    clock.now += 1.234
    assert breaker.status() == {
        "state": "open",
        "consecutive_failures": 2,
        "threshold": 2,
        "trips": 1,
        "retry_in_s": 3.77,
    }
    breaker.reset()
    assert breaker.status()["state"] == "closed"
    assert breaker.status()["retry_in_s"] is None
