"""Memory to deploy with, by the seed's formulas."""

from __future__ import annotations

import math

from memory_analysis.analysis.thresholds import MIN_FACTOR, RECOMMENDED_FACTOR


def requirements(peak_mb: float | None) -> dict[str, int | None]:
    """``min_memory_mb`` = peak × 1.5 and ``recommended_memory_mb`` = peak × 2.0, rounded
    up to whole MB; None when the peak is unknown."""
    if peak_mb is None:
        return {"min_memory_mb": None, "recommended_memory_mb": None}
    return {"min_memory_mb": math.ceil(peak_mb * MIN_FACTOR),
            "recommended_memory_mb": math.ceil(peak_mb * RECOMMENDED_FACTOR)}
