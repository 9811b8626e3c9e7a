"""What every plain-text view shares: lines to a stream, status lines thinned out."""

from __future__ import annotations

import sys
from typing import TextIO


class PlainLines:
    """Prints lines, flushed at once (logs follow the run); ``due(t)`` lets through at
    most one status line per ``every_s`` seconds of the run's clock."""

    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 1.0) -> None:
        self.stream = stream
        self.every_s = every_s
        self._next_t = 0.0

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def due(self, t: float) -> bool:
        if t + 1e-9 < self._next_t:
            return False
        self._next_t = t + self.every_s
        return True
