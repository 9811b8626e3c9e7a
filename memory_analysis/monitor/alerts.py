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
    # The watched tree's memory of the memory the service will get (--target-memory).
    "target_percent": "service memory of its target",
}


def target_message(alert: dict[str, Any], service_mb: float, target_mb: float,
                   target_name: str | None) -> str:
    """A target alert's message, naming the memory it is counted against:
    "WARNING: service memory 410.0 MB is 80.1% of the target 512 MB (threshold 80%)",
    or "... of plan render:starter (512 MB) ..." when the target has a name."""
    target = (f"{target_name} ({target_mb:,.0f} MB)" if target_name
              else f"the target {target_mb:,.0f} MB")
    return (f"{alert['level'].upper()}: service memory {service_mb:,.1f} MB is "
            f"{alert['value']:.1f}% of {target} (threshold {alert['threshold']:g}%)")


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
