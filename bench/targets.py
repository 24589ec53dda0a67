"""The issue's targets, checked against the medians of one run. A benchmark never fails on them:
they are reported, met or not."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

AT_MOST = operator.le
AT_LEAST = operator.ge


@dataclass(frozen=True)
class Target:
    """One target: which figure, of which side (or the ratio), on which fronts, and the limit."""

    name: str
    figure: str
    kind: str  # "ratio" or "proxy" (an absolute figure of the proxy)
    limit: float
    compare: Callable[[float, float], bool]
    fronts: tuple[str, ...] = ("stdio", "http")
    upstreams: tuple[str, ...] = ("stdio", "http")


TARGETS: tuple[Target, ...] = (
    Target("sequential p50 ≤ 1.5× (stdio front)", "seq_p50_ms", "ratio", 1.5, AT_MOST, fronts=("stdio",)),
    Target("sequential p50 ≤ 1.2× (HTTP front)", "seq_p50_ms", "ratio", 1.2, AT_MOST, fronts=("http",)),
    Target("sequential p99 ≤ 1.5×", "seq_p99_ms", "ratio", 1.5, AT_MOST),
    Target("throughput at 16 ≥ 0.7× (stdio front)", "c16_calls_per_s", "ratio", 0.7, AT_LEAST, fronts=("stdio",)),
    Target("throughput at 64 ≥ 0.7× (stdio front)", "c64_calls_per_s", "ratio", 0.7, AT_LEAST, fronts=("stdio",)),
    Target("throughput at 16 ≥ 0.9× (HTTP front)", "c16_calls_per_s", "ratio", 0.9, AT_LEAST, fronts=("http",)),
    Target("throughput at 64 ≥ 0.9× (HTTP front)", "c64_calls_per_s", "ratio", 0.9, AT_LEAST, fronts=("http",)),
    Target("1 MB result ≤ 1.2×", "big_p50_ms", "ratio", 1.2, AT_MOST),
    Target("tools/list of 5×20 ≤ one direct list of 20", "list_p50_ms", "ratio", 1.0, AT_MOST),
    Target("start-up ≤ 1.1× direct parallel connect", "startup_s", "ratio", 1.1, AT_MOST, upstreams=("stdio",)),
    Target("start-up < 5 s", "startup_s", "proxy", 5.0, operator.lt, upstreams=("stdio",)),
    Target("proxy CPU per call at 16 ≤ 1.5 ms (stdio front)", "c16_cpu_ms_per_call", "proxy", 1.5, AT_MOST, ("stdio",)),
    Target("proxy CPU per call at 64 ≤ 1.5 ms (stdio front)", "c64_cpu_ms_per_call", "proxy", 1.5, AT_MOST, ("stdio",)),
    Target("proxy CPU per call at 16 ≤ 2.5 ms (HTTP front)", "c16_cpu_ms_per_call", "proxy", 2.5, AT_MOST, ("http",)),
    Target("proxy CPU per call at 64 ≤ 2.5 ms (HTTP front)", "c64_cpu_ms_per_call", "proxy", 2.5, AT_MOST, ("http",)),
    Target("proxy peak RSS ≤ 60 MB", "peak_rss_mb", "proxy", 60.0, AT_MOST),
    Target("resource cache hit rate ≥ 90%", "resource_hit_rate", "proxy", 0.9, AT_LEAST),
)

CHAT_TARGET_LIMIT = 1.1


def _cell_transports(cell: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in cell.split(","))


def check_targets(summary: dict[str, Any], chat: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every applicable (target, cell) pair with its value and whether it is met (None: no value)."""
    rows: list[dict[str, Any]] = []
    for target in TARGETS:
        for cell, sides in summary.items():
            transports = _cell_transports(cell)
            if transports["front"] not in target.fronts or transports["upstream"] not in target.upstreams:
                continue
            value = sides[target.kind].get(target.figure)
            met = None if value is None else bool(target.compare(value, target.limit))
            rows.append({"target": target.name, "cell": cell, "value": value, "limit": target.limit, "met": met})
    variants = (("ratio", "every upstream behind the proxy"), ("ratio_one", "only the single-mode server behind it"))
    for key, variant in variants:
        chat_ratio = (chat or {}).get(key)
        rows.append(
            {
                "target": f"chat multi/single latency ≤ 1.1× ({variant})",
                "cell": "chat",
                "value": chat_ratio,
                "limit": CHAT_TARGET_LIMIT,
                "met": None if chat_ratio is None else chat_ratio <= CHAT_TARGET_LIMIT,
            }
        )
    return rows
