"""Reconnect delays: exponential ceilings, full jitter, and the reset after a stable connection."""

from __future__ import annotations

import random

from manifold_common.backoff import DEFAULT_INITIAL_DELAY, DEFAULT_MAX_DELAY, DEFAULT_MULTIPLIER, Backoff
from mcp_proxy.config.policy import ServerPolicy


class _Extremes(random.Random):
    """A random source that always draws the top of the range, and remembers every range asked for."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ranges: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.ranges.append((a, b))
        return b


def test_the_defaults_are_the_server_policy_defaults() -> None:
    backoff, policy = Backoff(), ServerPolicy()
    assert (backoff.initial, backoff.maximum, backoff.multiplier) == (
        DEFAULT_INITIAL_DELAY,
        DEFAULT_MAX_DELAY,
        DEFAULT_MULTIPLIER,
    )
    assert (policy.reconnect_initial, policy.reconnect_max, policy.reconnect_multiplier) == (0.5, 30.0, 2.0)
    assert (backoff.initial, backoff.maximum, backoff.multiplier) == (0.5, 30.0, 2.0)


def test_the_ceiling_grows_by_the_multiplier_and_stops_at_the_maximum() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, multiplier=3.0, _random=_Extremes())
    delays = [backoff.next_delay() for _ in range(5)]
    assert delays == [1.0, 3.0, 9.0, 10.0, 10.0]
    assert backoff.attempts == 5


def test_every_delay_is_drawn_between_zero_and_the_current_ceiling() -> None:
    source = _Extremes()
    backoff = Backoff(initial=0.5, maximum=4.0, multiplier=2.0, _random=source)
    for _ in range(4):
        backoff.next_delay()
    assert source.ranges == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4.0)]


def test_jittered_delays_stay_within_bounds_and_are_not_in_lock_step() -> None:
    first = Backoff(initial=1.0, maximum=8.0, _random=random.Random(1))
    second = Backoff(initial=1.0, maximum=8.0, _random=random.Random(2))
    one = [first.next_delay() for _ in range(6)]
    two = [second.next_delay() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0.0 <= delay <= ceiling for delay, ceiling in zip(one + two, ceilings * 2, strict=True))
    assert one != two


def test_reset_starts_again_from_the_initial_delay() -> None:
    backoff = Backoff(initial=0.25, maximum=30.0, _random=_Extremes())
    for _ in range(4):
        backoff.next_delay()
    assert backoff.ceiling() == 4.0
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.ceiling() == 0.25
    assert backoff.next_delay() == 0.25
