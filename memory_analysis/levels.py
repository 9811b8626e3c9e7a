"""The levels a run or an alert is given, worst first, and how they compare.

Its own small module because the monitor's ``--fail-on-alert`` needs the rule too, and
the monitor must start without importing the analysis.
"""

from __future__ import annotations

ORDER = ("critical", "warning", "safe")


def at_or_above(level: str | None, threshold: str) -> bool:
    """True when ``level`` is ``threshold`` or worse ("unknown" is neither)."""
    if level not in ORDER:
        return False
    return ORDER.index(level) <= ORDER.index(threshold)
