"""From raw repetitions to medians and proxy/direct ratios.

A ratio is the median of the per-repetition ratios: each repetition pairs a direct and a
proxied measurement taken back to back, so pairing cancels drift that a ratio of two medians
would keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .scenarios import Figures
from .stats import median


@dataclass(frozen=True)
class Figure:
    """One reported figure: its key in the raw data, what it means, and its unit."""

    key: str
    label: str
    unit: str


FIGURES: tuple[Figure, ...] = (
    Figure("seq_p50_ms", "sequential tools/call p50", "ms"),
    Figure("seq_p90_ms", "sequential tools/call p90", "ms"),
    Figure("seq_p99_ms", "sequential tools/call p99", "ms"),
    Figure("seq_cpu_ms_per_call", "CPU per call, sequential", "ms"),
    *(
        figure
        for level in (16, 64)
        for figure in (
            Figure(f"c{level}_calls_per_s", f"throughput, {level} concurrent", "calls/s"),
            Figure(f"c{level}_p50_ms", f"latency p50 at {level} concurrent", "ms"),
            Figure(f"c{level}_p90_ms", f"latency p90 at {level} concurrent", "ms"),
            Figure(f"c{level}_p99_ms", f"latency p99 at {level} concurrent", "ms"),
            Figure(f"c{level}_cpu_ms_per_call", f"CPU per call at {level} concurrent", "ms"),
            Figure(f"c{level}_children_cpu_ms_per_call", f"upstream children's CPU per call at {level}", "ms"),
        )
    ),
    Figure("big_p50_ms", "1 MB tool result p50", "ms"),
    Figure("list_p50_ms", "tools/list p50", "ms"),
    Figure("list_tools", "tools listed", "tools"),
    Figure("startup_s", "start-up to the first complete tools/list", "s"),
    Figure("peak_rss_mb", "peak RSS (VmHWM)", "MB"),
    Figure("rss_mb", "RSS at the end of the run", "MB"),
    Figure("children_peak_rss_mb", "upstream children's peak RSS (sum)", "MB"),
    Figure("resource_p50_ms", "resources/read p50 (repeated reads)", "ms"),
    Figure("resource_hit_rate", "resource cache hit rate", "fraction"),
)

FIGURE_KEYS = tuple(figure.key for figure in FIGURES)


def _values(runs: list[Figures], key: str) -> list[float]:
    return [value for run in runs if (value := run.get(key)) is not None]


def _median_or_none(values: list[float]) -> float | None:
    return round(median(values), 4) if values else None


def paired_ratio(direct: list[Figures], proxy: list[Figures], key: str) -> float | None:
    """The median over repetitions of proxy/direct for one figure (None when either is missing)."""
    ratios = [
        p / d
        for d_run, p_run in zip(direct, proxy, strict=True)
        if (d := d_run.get(key)) and (p := p_run.get(key)) is not None
    ]
    return _median_or_none(ratios)


def summarize_sides(direct: list[Figures], proxy: list[Figures]) -> dict[str, dict[str, float | None]]:
    """Medians of each side and the paired ratio, for every figure either side has."""
    keys = [key for key in FIGURE_KEYS if _values(direct, key) or _values(proxy, key)]
    keys += sorted({key for run in direct + proxy for key in run} - set(keys))
    return {
        "direct": {key: _median_or_none(_values(direct, key)) for key in keys},
        "proxy": {key: _median_or_none(_values(proxy, key)) for key in keys},
        "ratio": {key: paired_ratio(direct, proxy, key) for key in keys},
    }


def _rank(order: tuple[str, ...], name: str) -> int:
    return order.index(name) if name in order else len(order)


def summarize(
    raw: dict[str, dict[str, list[Figures]]],
    gaps: dict[str, dict[str, str]] | None = None,
    order: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Medians and ratios for every cell: direct, proxy and their ratio, then under "peers" each
    peer's medians ("figures") and ratios to direct ("ratio"), or the reason it has none ("gap"),
    in the order of `order` (so every table has its columns in the same order)."""
    summary: dict[str, Any] = {}
    for cell, sides in raw.items():
        summary[cell] = summarize_sides(sides["direct"], sides["proxy"])
        peers: dict[str, Any] = {}
        for name, runs in sides.items():
            if name in ("direct", "proxy"):
                continue
            peer = summarize_sides(sides["direct"], runs)
            peers[name] = {"figures": peer["proxy"], "ratio": peer["ratio"]}
        for name, reason in (gaps or {}).get(cell, {}).items():
            peers.setdefault(name, {"figures": {}, "ratio": {}})["gap"] = reason
        summary[cell]["peers"] = dict(sorted(peers.items(), key=lambda item: _rank(order, item[0])))
    return summary
