"""Something done every so often on a clock that ticks: the monitor's PSS reads, the
status lines of a log.

Due times lie on a fixed grid from the first time asked, so a late tick does not push
the later ones back, and a tick up to ``slack_s`` early counts as on time: a tick due at
the same moment as the grid point arrives a little before or after it, and waiting for
the next tick would skip a whole period.
"""

from __future__ import annotations


class Cadence:
    def __init__(self, every_s: float, slack_s: float = 0.0) -> None:
        self.every_s = every_s
        self.slack_s = min(slack_s, every_s / 2)
        self._next: float | None = None

    def due(self, t: float) -> bool:
        """True when the thing is due at time ``t`` (seconds, any fixed origin)."""
        if self._next is None:
            self._next = t + self.every_s
            return True
        if t < self._next - self.slack_s:
            return False
        while self._next <= t + self.slack_s:  # the next grid point ahead of this tick
            self._next += self.every_s
        return True
