"""How much to measure: the full run, and the quick run that only keeps the suite working."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .setups import Transport


@dataclass(frozen=True)
class Cell:
    """One configuration: the proxy's front transport and its upstreams' transport."""

    front: Transport
    upstream: Transport

    @property
    def key(self) -> str:
        """`front=stdio,upstream=http` style key used in the JSON."""
        return f"front={self.front},upstream={self.upstream}"


ALL_CELLS = tuple(Cell(front, upstream) for front in ("stdio", "http") for upstream in ("stdio", "http"))
# Both fronts and both upstream transports, every figure: enough to keep the suite working.
DIAGONAL_CELLS = (Cell("stdio", "stdio"), Cell("http", "http"))


@dataclass(frozen=True)
class Plan:
    """Counts and durations of one benchmark run."""

    mode: Literal["full", "quick"]
    repetitions: int
    sequential_calls: int
    warmup_calls: int
    window_seconds: float
    big_calls: int
    list_calls: int
    resource_reads: int
    chat_requests: int
    cells: tuple[Cell, ...] = ALL_CELLS
    concurrency_levels: tuple[int, ...] = (16, 64)
    big_bytes: int = 1_000_000
    upstream_count: int = 5


FULL = Plan(
    mode="full",
    repetitions=5,
    sequential_calls=500,
    warmup_calls=50,
    window_seconds=3.0,
    big_calls=20,
    list_calls=100,
    resource_reads=200,
    chat_requests=20,
)

QUICK = Plan(
    mode="quick",
    repetitions=1,
    sequential_calls=10,
    warmup_calls=2,
    window_seconds=0.2,
    big_calls=1,
    list_calls=3,
    resource_reads=8,
    chat_requests=1,
    # Process launches are most of a quick run: one upstream and two setups keep it short.
    upstream_count=1,
    cells=DIAGONAL_CELLS,
)
