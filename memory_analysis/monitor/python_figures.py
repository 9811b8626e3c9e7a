"""Each sample's ``python`` key: what the agents inside the service's Python processes
last reported (see ``memory_analysis/agent``), keyed by PID as a string.

Garbage collection figures are in every sample (counters are cumulative, so any two
samples give what happened between them; ``pause_max_s`` is the longest pause since the
previous sample, from the agent's windows, so a pause is never missed between samples).
Objects by type and the traced memory by component are taken rarely and are large: they
appear in the sample where a new count arrives, and hold until the next.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from memory_analysis.monitor import procfs


@dataclass
class _Seen:
    mtime_ns: int = 0
    report: dict[str, Any] | None = None
    window_seq: int = 0  # last pause window folded into a sample
    objects_at: float | None = None
    traced_at: float | None = None
    start_ticks: int | None = None
    own_pid: int | None = None  # its PID in its own namespace (a container's): the file's
    stale: bool = False  # the file is another, earlier process's with the same PID


@dataclass
class AgentReader:
    directory: str
    _seen: dict[int, _Seen] = field(default_factory=dict)

    def read(self, pids: Iterable[int]) -> dict[str, Any] | None:
        """The ``python`` key of a sample of the processes ``pids``; None when no process
        of the tree has an agent reporting."""
        out: dict[str, Any] = {}
        wanted = set(pids)
        for pid in wanted:
            figures = self._figures(pid)
            if figures is not None:
                out[str(pid)] = figures
        for pid in [p for p in self._seen if p not in wanted]:
            del self._seen[pid]
        return out or None

    def _load(self, pid: int, seen: _Seen) -> None:
        if seen.start_ticks is None:
            try:
                seen.start_ticks = procfs.read_stat(pid).start_ticks
                seen.own_pid = procfs.read_status(pid).own_pid
            except (procfs.ProcessGone, OSError):
                return
        # An agent names its file by the PID it knows itself by: inside a container,
        # not the one seen from here.
        path = os.path.join(self.directory, f"{seen.own_pid or pid}.json")
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            return
        if mtime == seen.mtime_ns:
            return
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError):
            return  # replaced as we read it: the next tick reads the new one
        seen.mtime_ns = mtime
        ticks = report.get("start_ticks")
        seen.stale = ticks is not None and ticks != seen.start_ticks
        seen.report = report

    def _figures(self, pid: int) -> dict[str, Any] | None:
        seen = self._seen.setdefault(pid, _Seen())
        self._load(pid, seen)
        report = seen.report
        if report is None or seen.stale:
            return None
        gc = dict(report.get("gc") or {})
        windows = gc.pop("windows", []) or []
        newer = [w[1] for w in windows if w[0] > seen.window_seq]
        if windows:
            seen.window_seq = max(w[0] for w in windows)
        gc["pause_max_s"] = max(newer) if newer else 0.0
        gc["pause_longest_s"] = (report.get("gc") or {}).get("pause_max_s")
        figures: dict[str, Any] = {"python": report.get("python"), "seq": report.get("seq"),
                                   "reported_at": report.get("time"), "gc": gc}
        objects = report.get("objects")
        if objects and objects.get("at") != seen.objects_at:
            seen.objects_at = objects.get("at")
            figures["objects"] = objects
        traced = report.get("tracemalloc")
        if traced:
            figures["tracemalloc"] = {k: traced.get(k) for k in
                                      ("current_mb", "peak_mb", "overhead_mb")}
            if traced.get("at") is not None and traced.get("at") != seen.traced_at:
                seen.traced_at = traced["at"]
                figures["tracemalloc"].update(
                    {k: traced.get(k) for k in ("at", "took_s", "components_mb",
                                                "top_modules")})
        return figures
