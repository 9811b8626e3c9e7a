"""Threshold alerts that fire when a value crosses a threshold, not on every sample above it.

Each metric has a level (none, warning, critical). An alert is raised when the level
goes up; once the value falls below a level's threshold that level re-arms, so a second
excursion alerts again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_LEVELS = {"none": 0, "warning": 1, "critical": 2}

_DESCRIPTIONS = {
    # The host's memory used by everything on it, not the watched process's.
    "system_percent": "the host's memory in use (all its processes)",
    "cgroup_percent": "cgroup working set of its limit",
}


@dataclass
class AlertTracker:
    warning: float
    critical: float
    _levels: dict[str, str] = field(default_factory=dict)

    def _level_of(self, value: float) -> str:
        if value >= self.critical:
            return "critical"
        if value >= self.warning:
            return "warning"
        return "none"

    def check(self, t: float, metric: str, value: float | None) -> dict[str, Any] | None:
        """The alert raised by ``value`` of ``metric`` at time ``t``, if any."""
        if value is None:
            return None
        level = self._level_of(value)
        before = self._levels.get(metric, "none")
        self._levels[metric] = level
        if _LEVELS[level] <= _LEVELS[before]:
            return None
        threshold = self.critical if level == "critical" else self.warning
        what = _DESCRIPTIONS.get(metric, metric)
        return {
            "t": round(t, 3),
            "level": level,
            "metric": metric,
            "value": round(value, 2),
            "threshold": threshold,
            "message": f"{level.upper()}: {what} at {value:.1f}% (threshold {threshold:g}%)",
        }
