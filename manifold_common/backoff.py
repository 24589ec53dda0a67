"""Reconnect delays: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the exponential ceiling) keeps many proxies
that lost the same upstream at the same moment from reconnecting in lock-step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DEFAULT_INITIAL_DELAY = 0.5
DEFAULT_MAX_DELAY = 30.0
DEFAULT_MULTIPLIER = 2.0


@dataclass
class Backoff:
    """Produces successive reconnect delays; `reset()` after a connection proved stable."""

    initial: float = DEFAULT_INITIAL_DELAY
    maximum: float = DEFAULT_MAX_DELAY
    multiplier: float = DEFAULT_MULTIPLIER
    attempts: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def ceiling(self) -> float:
        """The largest delay the next attempt may wait."""
        return min(self.maximum, self.initial * self.multiplier**self.attempts)

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        delay = self._random.uniform(0.0, self.ceiling())
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Start again from the initial delay."""
        self.attempts = 0
