"""The levels a run or an alert is given, worst first, and how they compare.

Its own small module because the monitor's ``--fail-on-alert`` needs the rule too, and
its ``--warning``/``--critical`` defaults the table's bounds, and the monitor must start
without importing the analysis.
"""

from __future__ import annotations

ORDER = ("critical", "warning", "safe")

# The level table's peak bounds (the seed's), in percent of the memory judged against:
# at or above the first, a warning; above the second, critical. Declared here, where the
# monitor's alert defaults read them without importing the analysis; the analysis reads
# them through ``analysis.thresholds``.
PEAK_WARNING_PERCENT = 80.0
PEAK_CRITICAL_PERCENT = 90.0


def at_or_above(level: str | None, threshold: str) -> bool:
    """True when ``level`` is ``threshold`` or worse ("unknown" is neither)."""
    if level not in ORDER:
        return False
    return ORDER.index(level) <= ORDER.index(threshold)
