"""What the tools' views share: plain lines to a stream with status lines thinned out,
and a rich panel redrawn in place on a terminal."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from memory_analysis.cadence import Cadence


class PlainLines:
    """Prints lines, flushed at once (logs follow the run); ``due(t)`` lets through at
    most one status line per ``every_s`` seconds of the run's clock."""

    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 1.0) -> None:
        self.stream = stream
        self.every_s = every_s
        # Status comes with each sample or each second, a few ms after its own due time:
        # one a tenth of a period early is the one due (else a line a second would come
        # every other second now and then).
        self._cadence = Cadence(every_s, every_s / 10)

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to undo: lines already printed stay."""

    def due(self, t: float) -> bool:
        return self._cadence.due(t)


class LivePanel:
    """A rich panel redrawn in place (4 times a second at most) that leaves no trace
    when stopped; views put their own content in it. rich is imported only here, so a
    plain or quiet run never loads it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=True)

    def close(self) -> None:
        self.live.stop()


def _hours_text(hours: float | None) -> str:
    if hours is None:
        return "for ever"
    if hours <= 0:
        return "none"
    if hours < 1:
        return f"{max(hours * 60, 1):.0f} min"
    return f"{hours:.1f} h" if hours < 10 else f"{hours:,.0f} h"


def lasts_text(plan: dict[str, Any]) -> str:
    """How long a plan holds a leak: "2.3 h (1.9 h to 2.9 h)"."""
    if "lasts_h" not in plan:
        return "-"
    text = _hours_text(plan["lasts_h"])
    low, high = (_hours_text(h) for h in plan.get("lasts_h_ci") or [None, None])
    if plan["lasts_h"] and low != high:
        text += f" ({low} to {high})"
    return text
