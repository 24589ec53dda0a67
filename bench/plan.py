"""How much to measure: the full run, and the quick run that only keeps the suite working."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .setups import Transport

LEGACY = "legacy"
MODERN = "2026-07-28"
ERAS = (LEGACY, MODERN)
"""The client eras, as the SDK `Client`'s `mode`: a handshake-era client and a 2026-07-28 one."""


@dataclass(frozen=True)
class Cell:
    """One configuration: the proxy's front transport, its upstreams' transport, the client's era."""

    front: Transport
    upstream: Transport
    era: str = LEGACY

    @property
    def key(self) -> str:
        """`front=stdio,upstream=http,client=legacy` style key used in the JSON."""
        return f"front={self.front},upstream={self.upstream},client={self.era}"


ALL_CELLS = tuple(
    Cell(front, upstream, era) for front in ("stdio", "http") for upstream in ("stdio", "http") for era in ERAS
)
# Both fronts, both upstream transports and both eras, every figure: enough to keep the suite working.
DIAGONAL_CELLS = (Cell("stdio", "stdio", LEGACY), Cell("http", "http", MODERN))


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
    peers: tuple[str, ...] = ("mcp-proxy", "fastmcp")
    """The peers measured beside the proxy (names in `bench.peers`)."""
    peer_fronts: tuple[Transport, ...] = ("stdio", "http")
    install_peers: bool = True
    """Create a missing peer environment (from PyPI); otherwise a missing one is a gap."""
    chat: bool = True


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
    # One cheap peer path, and only when its environment already exists: a quick run installs nothing.
    peers=("fastmcp",),
    peer_fronts=("stdio",),
    install_peers=False,
)
