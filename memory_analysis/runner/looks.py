"""What the load has produced so far, as the analysis takes it: for the leak test's looks
while the load goes on (``--load-test auto``).

Reads the monitor's stream of samples and the load tester's stream of per-second rows
(what is new at each read, as the live view does), tags the samples with their phase,
and describes the load so far as one run of the load tester on the samples' clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memory_analysis.runner.live import StreamTail


class LoadSoFar:
    def __init__(self, monitor_stream: Path, load_timeline: Path, users: int) -> None:
        self._monitor = StreamTail(monitor_stream)
        self._rows_tail = StreamTail(load_timeline)
        self.users = users
        self.header: dict[str, Any] = {}
        self.samples: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []

    def update(self) -> None:
        for record in self._monitor.read():
            if record.get("kind") == "header":
                self.header = record
            elif "kind" not in record:
                self.samples.append(record)
        self.rows += self._rows_tail.read()

    @property
    def load_s(self) -> float:
        """Seconds of load so far (the last per-second row's)."""
        return float(self.rows[-1]["t"]) if self.rows else 0.0

    @property
    def requests(self) -> int:
        return sum(int(row.get("requests", 0)) for row in self.rows)

    def inputs(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        """(samples tagged "baseline" or "load", the load as one run on their clock), up
        to the last full second the load tester has reported; None before there is
        one."""
        clock = self.header.get("start_time")
        timed = [row for row in self.rows if row.get("time") is not None]
        if clock is None or not timed:
            return None
        # Rows are written at the end of each second, late if anything: the earliest
        # time - t is the nearest to when the first request left.
        start = min(row["time"] - row["t"] for row in timed)
        end = start + self.load_s
        samples = []
        for sample in self.samples:
            if sample["time"] > end:
                break
            loading = sample["time"] >= start
            samples.append({**sample, "phase": "load" if loading else "baseline",
                            "load_users": self.users if loading else 0, "cycle": 1})
        flights = [row["in_flight"] for row in self.rows if row.get("in_flight") is not None]
        segment = {"start_t": start - clock, "end_t": end - clock, "users": self.users,
                   "cycle": 1, "requests": self.requests,
                   "timeline": [{"t": row["t"], "requests": row.get("requests", 0)}
                                for row in self.rows],
                   "mean_in_flight": sum(flights) / len(flights) if flights else None}
        return samples, [segment]
