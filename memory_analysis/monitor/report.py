"""The monitor's report: a running summary of the samples and the final JSON document.

Samples live in the JSON-Lines stream they are written to as they are taken; the summary
keeps only which lines of it are samples and the figures it needs, as arrays, and the
report splices the sample lines from the stream when it is written. So the monitor's
memory stays flat however long it runs and however many processes each sample lists.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable
from typing import Any

from memory_analysis.analysis.stats import percentile, summarize
from memory_analysis.reports.jsonio import chunks_with_raw_list, write_chunks_atomic

TOOL = "memory_monitor"
SCHEMA_VERSION = 1


def _peak(values: array) -> float | None:
    return round(max(values), 3) if values else None


class MonitorSummary:
    """Collects what the summary needs, one sample at a time (``add``), derives once."""

    def __init__(self) -> None:
        self.sample_lines = array("L")  # index of each sample's line in the stream
        self.system_percent = array("d")
        self.rss_mb = array("d")
        self.tree_mb = array("d")
        # Running peaks (MB), kept as samples arrive so a live view can show them.
        # The target's own peak is the larger of sampled RSS and the kernel's high-water
        # mark, so a spike between two samples still counts.
        self.peak_rss_mb: float | None = None
        self.peak_tree_mb: float | None = None
        self.cgroup_usage_mb = array("d")
        self.cgroup_peak_mb = array("d")
        self.cgroup_lifetime_peak_mb: float | None = None
        self.cgroup_peak_basis: str | None = None  # "reset" or "sampled" (MemoryCgroup)
        self.jitter_ms = array("d")
        self.oom_kills_first: int | None = None
        self.oom_kills_last: int | None = None
        # Memory pressure's counters (``CgroupReading``) at the first and last sample.
        self.pressure_first: dict[str, int] = {}
        self.pressure_last: dict[str, int] = {}
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.missed_ticks = 0

    def add(self, sample: dict[str, Any], line: int, jitter_ms: float) -> None:
        self.sample_lines.append(line)
        if self.first_t is None:
            self.first_t = sample["t"]
        self.last_t = sample["t"]
        self.jitter_ms.append(jitter_ms)
        self.system_percent.append(sample["system"]["percent"])
        process = sample.get("process")
        if process:
            self.rss_mb.append(process["rss_mb"])
            self.tree_mb.append(process["tree_mb"])
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, process["rss_mb"], process["hwm_mb"])
            self.peak_tree_mb = max(self.peak_tree_mb or 0.0, process["tree_mb"])
        group = sample.get("cgroup")
        if group:
            self.cgroup_usage_mb.append(group["usage_mb"])
            if group.get("peak_mb") is not None:
                self.cgroup_peak_mb.append(group["peak_mb"])
            if group.get("lifetime_peak_mb") is not None:
                self.cgroup_lifetime_peak_mb = group["lifetime_peak_mb"]
            if self.oom_kills_first is None:
                self.oom_kills_first = group["oom_kills"]
            self.oom_kills_last = group["oom_kills"]
            for key in PRESSURE_KEYS:
                if group.get(key) is not None:
                    self.pressure_first.setdefault(key, group[key])
                    self.pressure_last[key] = group[key]

    def pressure(self) -> dict[str, Any]:
        """The run's memory pressure in its cgroup: with PSI (v2), the share of the run
        some (``some_percent``) or all (``full_percent``) of its tasks stalled waiting
        for memory; on v1, how often usage hit the limit (``failcnt``)."""
        if not self.pressure_last:
            return {}
        grew = {key: self.pressure_last[key] - self.pressure_first[key]
                for key in self.pressure_last}
        if "failcnt" in grew:
            return {"kind": "failcnt", "failcnt": grew["failcnt"]}
        span_us = max(self.duration_s, 1e-3) * 1e6
        return {"kind": "psi",
                "some_percent": round(grew.get("pressure_some_us", 0) * 100.0 / span_us, 3),
                "full_percent": round(grew.get("pressure_full_us", 0) * 100.0 / span_us, 3)}

    @property
    def sample_count(self) -> int:
        return len(self.sample_lines)

    @property
    def duration_s(self) -> float:
        if self.first_t is None or self.last_t is None:
            return 0.0
        return round(self.last_t - self.first_t, 3)

    def finish(self, tree_metric: str | None) -> dict[str, Any]:
        jitter_p50 = percentile(self.jitter_ms, 50)
        jitter_p99 = percentile(self.jitter_ms, 99)
        summary: dict[str, Any] = {
            "sample_count": self.sample_count,
            "duration_s": self.duration_s,
            "system_percent": summarize(self.system_percent),
            "peak_rss_mb": self.peak_rss_mb,
            "peak_tree_mb": self.peak_tree_mb,
            "tree_metric": tree_metric,
            "rss_mb": summarize(self.rss_mb, 3),
            "tree_mb": summarize(self.tree_mb, 3),
            "timing": {
                "jitter_p50_ms": round(jitter_p50, 3) if jitter_p50 is not None else None,
                "jitter_p99_ms": round(jitter_p99, 3) if jitter_p99 is not None else None,
                "jitter_max_ms": round(max(self.jitter_ms), 3) if self.jitter_ms else None,
                "missed_ticks": self.missed_ticks,
            },
        }
        if self.cgroup_usage_mb:
            peaks = [p for p in (_peak(self.cgroup_usage_mb), _peak(self.cgroup_peak_mb))
                     if p is not None]
            # The run's own peak: never the cgroup's lifetime one, which may be another
            # process's from before the run; that has a name of its own.
            summary["cgroup"] = {
                "usage_mb": summarize(self.cgroup_usage_mb, 3),
                "peak_mb": max(peaks),
                "peak_basis": self.cgroup_peak_basis,
                "lifetime_peak_mb": self.cgroup_lifetime_peak_mb,
                "oom_kills": self.oom_kills_last,
                "oom_kills_during_run": (self.oom_kills_last or 0) - (self.oom_kills_first or 0),
            }
            pressure = self.pressure()
            if pressure:
                summary["cgroup"]["pressure"] = pressure
        return summary


PRESSURE_KEYS = ("pressure_some_us", "pressure_full_us", "failcnt")


def stream_path_for(report_path: str | os.PathLike[str]) -> str:
    """The JSON-Lines file beside a report: memory_analysis.json ->
    memory_analysis.samples.jsonl."""
    stem, _ = os.path.splitext(os.fspath(report_path))
    return stem + ".samples.jsonl"


def write_report(path: str, report: dict[str, Any], encoded_samples: Iterable[str]) -> None:
    """Write the report atomically, splicing the already-encoded samples in as they come."""
    write_chunks_atomic(path, chunks_with_raw_list(report, "samples", encoded_samples))
