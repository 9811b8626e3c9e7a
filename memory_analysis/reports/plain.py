"""What the tools' views share: plain lines to a stream with status lines thinned out,
and a rich panel redrawn in place on a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

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
