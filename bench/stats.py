"""Percentiles and medians, small and dependency-free."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in 0..1) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sample."""
    return statistics.median(values)


def milliseconds(seconds: float) -> float:
    """Seconds as milliseconds, rounded for reports."""
    return round(seconds * 1000, 4)
