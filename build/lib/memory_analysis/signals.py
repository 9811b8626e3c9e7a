"""Graceful stop on SIGINT/SIGTERM for synchronous loops.

``StopSignal`` turns the first Ctrl-C or SIGTERM into a flag that a loop checks, and
wakes a loop that is waiting for its next deadline at once (through a self-pipe), so
the loop can write what it has and exit cleanly instead of dying mid-write.
"""

from __future__ import annotations

import os
import select
import signal
from types import FrameType, TracebackType


class Interrupted(Exception):
    """Raised by waits that noticed a requested stop, to unwind to whoever handles it."""


class StopSignal:
    """Context manager: while active, SIGINT and SIGTERM (or the ``signals`` given)
    request a stop; ``signum`` says which arrived first."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, signals: tuple[int, ...] = SIGNALS) -> None:
        self.signals = signals
        self.signum: int | None = None
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Ask for a stop as if ``signum`` had arrived (also used by the handler)."""
        if self.signum is None:
            self.signum = signum
        try:
            os.write(self._write_fd, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is already full of wake-ups: one is enough

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.request(signum)

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; return True at once when a stop is requested."""
        if self.requested:
            return True
        if timeout > 0:
            select.select([self._read_fd], [], [], timeout)
        return self.requested

    def __enter__(self) -> StopSignal:
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        os.close(self._read_fd)
        os.close(self._write_fd)
