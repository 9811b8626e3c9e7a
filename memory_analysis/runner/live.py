"""What a person watching the main job sees change: the phase and its progress, the
service's memory now and at its peak, how full the memory it is judged against is,
requests per second, p95 latency, failures, and alerts as they fire.

The figures come from the files the tools stream while they run (the monitor's samples,
the load tester's per-second rows): the runner reads what is new there, so watching
costs the tools nothing. Views only format a ``status`` dict built here.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory_analysis.monitor.sampler import service_mb

# Service memory points kept for the sparkline.
HISTORY_POINTS = 40


class StreamTail:
    """The records appended to a JSON-Lines file since the last read (a line still being
    written waits for the next read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records


@dataclass
class LiveStatus:
    """Gathers the streams into one status while the run goes on."""

    monitor_stream: Path
    limit_mb: float | None = None  # the target or plan the user gave, if any
    limit_name: str | None = None  # what it is: "plan render:starter"; None: "target"
    history: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    peak_mb: float | None = None
    memory_mb: float | None = None
    percent: float | None = None
    percent_of: str = "host's memory"
    alerts: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    failures: int = 0
    rps: float | None = None
    p95_ms: float | None = None
    # --load-test auto: the leak test's last look (``runlength.look_record``, with
    # ``looks_planned`` and ``more_s``, the load it still expects to need)
    auto: dict[str, Any] | None = None
    _monitor: StreamTail | None = None
    _load: StreamTail | None = None

    def __post_init__(self) -> None:
        self._monitor = StreamTail(self.monitor_stream)

    def follow_load(self, timeline: Path) -> None:
        """A load tester run has started, streaming its per-second rows to ``timeline``."""
        self._load = StreamTail(timeline)
        self.rps = self.p95_ms = None

    def stop_following_load(self) -> None:
        self._load = None
        self.rps = self.p95_ms = None

    def update(self) -> None:
        assert self._monitor is not None
        for record in self._monitor.read():
            if record.get("kind") == "alert":
                self.alerts.append(record)
            elif "kind" not in record:
                self._sample(record)
        if self._load is not None:
            for row in self._load.read():
                self.requests += int(row.get("requests", 0))
                self.failures += int(row.get("failures", 0))
                self.rps = float(row.get("requests", 0))
                self.p95_ms = row.get("p95_ms")

    def _sample(self, sample: dict[str, Any]) -> None:
        mb = service_mb(sample.get("process"))
        if mb is None:
            return
        self.memory_mb = mb
        self.peak_mb = mb if self.peak_mb is None else max(self.peak_mb, mb)
        self.history.append(mb)
        group = sample.get("cgroup") or {}
        if self.limit_mb:
            self.percent = mb * 100.0 / self.limit_mb
            self.percent_of = self.limit_name or "target"
        elif group.get("percent") is not None:
            self.percent, self.percent_of = group["percent"], "cgroup limit"
        else:
            # The service's own memory of the host's: what other programs hold is theirs.
            total = (sample.get("system") or {}).get("total_mb")
            self.percent = mb * 100.0 / total if total else None
            self.percent_of = "host's memory"

    def status(self, phase: str, detail: str, started: float, planned_s: float | None
               ) -> dict[str, Any]:
        """Everything a view shows, now."""
        elapsed = time.time() - started
        return {"phase": phase, "detail": detail, "elapsed_s": elapsed,
                "remaining_s": None if planned_s is None else max(planned_s - elapsed, 0.0),
                "planned_s": planned_s, "memory_mb": self.memory_mb, "peak_mb": self.peak_mb,
                "history_mb": list(self.history), "percent": self.percent,
                "percent_of": self.percent_of, "rps": self.rps, "p95_ms": self.p95_ms,
                "requests": self.requests, "failures": self.failures,
                "alerts": [a.get("message") for a in self.alerts], "auto": self.auto}
