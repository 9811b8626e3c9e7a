"""Plain statistics over lists of numbers. Pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The ``pct`` percentile (0-100) by linear interpolation between closest ranks.

    None for an empty sequence. ``values`` need not be sorted.
    """
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Sequence[float], digits: int = 2) -> dict[str, float | None]:
    """min, mean, max and p95 of ``values``, rounded; all None when empty."""
    if not values:
        return {"min": None, "mean": None, "max": None, "p95": None}
    p95 = percentile(values, 95)
    return {
        "min": round(min(values), digits),
        "mean": round(sum(values) / len(values), digits),
        "max": round(max(values), digits),
        "p95": round(p95, digits) if p95 is not None else None,
    }
