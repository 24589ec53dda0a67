"""The performance targets, checked against the medians of one run. A benchmark never fails on them:
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


# The lean relay's targets (ratios to direct, medians of interleaved repetitions), then the
# start-up and cache targets that came before them. Peak RSS may be no higher than in the last
# run before the relay (2026-11-24, commit acf743c: 86.9 MB at most with stdio upstreams, 94.8 MB
# with HTTP upstreams); its flatness over 100,000 calls is `python -m bench.soak`'s figure, and
# one call with five upstreams against one is `python -m bench.upstream_count`'s.
TARGETS: tuple[Target, ...] = (
    Target("sequential p50 ≤ 1.3× (stdio front)", "seq_p50_ms", "ratio", 1.3, AT_MOST, fronts=("stdio",)),
    Target("sequential p50 ≤ 1.15× (HTTP front)", "seq_p50_ms", "ratio", 1.15, AT_MOST, fronts=("http",)),
    Target("sequential p99 ≤ 1.4×", "seq_p99_ms", "ratio", 1.4, AT_MOST),
    Target("throughput at 16 ≥ 0.9×", "c16_calls_per_s", "ratio", 0.9, AT_LEAST),
    Target("throughput at 64 ≥ 0.9×", "c64_calls_per_s", "ratio", 0.9, AT_LEAST),
    Target(
        "proxy CPU per call at 16 ≤ 0.25 ms (stdio front)", "c16_cpu_ms_per_call", "proxy", 0.25, AT_MOST, ("stdio",)
    ),
    Target(
        "proxy CPU per call at 64 ≤ 0.25 ms (stdio front)", "c64_cpu_ms_per_call", "proxy", 0.25, AT_MOST, ("stdio",)
    ),
    Target("proxy CPU per call at 16 ≤ 0.4 ms (HTTP front)", "c16_cpu_ms_per_call", "proxy", 0.4, AT_MOST, ("http",)),
    Target("proxy CPU per call at 64 ≤ 0.4 ms (HTTP front)", "c64_cpu_ms_per_call", "proxy", 0.4, AT_MOST, ("http",)),
    Target("1 MB result ≤ 1.15×", "big_p50_ms", "ratio", 1.15, AT_MOST),
    Target("tools/list of 5×20 ≤ one direct list of 20", "list_p50_ms", "ratio", 1.0, AT_MOST),
    Target(
        "proxy peak RSS ≤ 86.9 MB (stdio upstreams, as before the relay)",
        "peak_rss_mb",
        "proxy",
        86.9,
        AT_MOST,
        upstreams=("stdio",),
    ),
    Target(
        "proxy peak RSS ≤ 94.8 MB (HTTP upstreams, as before the relay)",
        "peak_rss_mb",
        "proxy",
        94.8,
        AT_MOST,
        upstreams=("http",),
    ),
    Target("start-up ≤ 1.1× direct parallel connect", "startup_s", "ratio", 1.1, AT_MOST, upstreams=("stdio",)),
    Target("start-up < 5 s", "startup_s", "proxy", 5.0, operator.lt, upstreams=("stdio",)),
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
