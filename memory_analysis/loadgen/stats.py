"""What a load test measured, kept flat in memory and mergeable exactly.

Counters and HdrHistograms only, never a list of per-request results: memory depends on
the number of endpoints and seconds, not on the number of requests. ``RunStats.add``
merges two runs (worker processes, shards, result files) by adding counters and
histograms, so percentiles of a merge are exact, never averages of percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memory_analysis.loadgen.histogram import LatencyHistogram

ERROR_CLASSES = ("timeout", "connection_refused", "connection_reset", "connection_closed", "dns",
                 "other")


class EndpointStats:
    """Counters and latency histogram of one endpoint."""

    __slots__ = ("name", "method", "path", "category", "weight", "requests", "failures",
                 "bytes_received", "errors", "hist")

    def __init__(self, name: str, method: str, path: str, category: str,
                 weight: float = 1.0) -> None:
        self.name = name
        self.method = method
        self.path = path
        self.category = category
        self.weight = weight
        self.requests = 0
        self.failures = 0
        self.bytes_received = 0
        self.errors: dict[str, int] = {}
        self.hist = LatencyHistogram()

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.name, self.method, self.path, self.category)

    def add(self, other: EndpointStats) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.bytes_received += other.bytes_received
        for cls, n in other.errors.items():
            self.errors[cls] = self.errors.get(cls, 0) + n
        self.hist.add(other.hist)


class Interval:
    """One second of the timeline (``t`` = end of the second, from the start).

    While its second runs it records into a full histogram (~140 kB); once closed it
    keeps only the encoded histogram (a few hundred bytes) and its p50/p95, so a long
    run's timeline costs kilobytes per minute, not megabytes.
    """

    __slots__ = ("t", "requests", "failures", "in_flight", "hist", "encoded", "p50_ms",
                 "p95_ms")

    def __init__(self, t: int, requests: int = 0, failures: int = 0, in_flight: int = 0,
                 encoded: str | None = None) -> None:
        self.t = t
        self.requests = requests
        self.failures = failures
        self.in_flight = in_flight
        self.hist: LatencyHistogram | None = None if encoded is not None else LatencyHistogram()
        self.encoded = encoded
        self.p50_ms: float | None = None
        self.p95_ms: float | None = None
        if encoded is not None:
            self.p50_ms, self.p95_ms = LatencyHistogram.decode(encoded).quick_ms()

    def histogram(self) -> LatencyHistogram:
        if self.hist is not None:
            return self.hist
        return LatencyHistogram.decode(self.encoded or "")

    def close(self) -> None:
        """Keep the encoded histogram and its p50/p95; free the full one."""
        if self.hist is not None:
            self.p50_ms, self.p95_ms = self.hist.quick_ms()
            self.encoded = self.hist.encode()
            self.hist = None

    def add(self, other: Interval) -> None:
        self.requests += other.requests
        self.failures += other.failures
        self.in_flight += other.in_flight
        hist = self.histogram()
        hist.add(other.histogram())
        self.hist = hist
        self.close()


@dataclass
class GeneratorStats:
    """How hard the load generator itself worked (one entry per process)."""

    cpu_percent_mean: float = 0.0
    cpu_percent_max: float = 0.0
    rss_mb: float | None = None
    loop_lag: LatencyHistogram = field(default_factory=LatencyHistogram)

    def to_dict(self) -> dict[str, Any]:
        lag = self.loop_lag.summary_ms()
        return {"cpu_percent_mean": round(self.cpu_percent_mean, 1),
                "cpu_percent_max": round(self.cpu_percent_max, 1),
                "rss_mb": self.rss_mb,
                "loop_lag_ms": {"p50": lag["p50"], "p99": lag["p99"], "max": lag["max"]},
                "loop_lag_histogram": self.loop_lag.encode()}


class RunStats:
    """Everything one run (or a merge of runs) measured."""

    def __init__(self, endpoints: list[EndpointStats]) -> None:
        self.endpoints = endpoints
        self.dropped = 0
        self.cancelled = 0
        self.duration_s = 0.0
        self.timeline: list[Interval] = []
        self.scheduled = 0          # open model: sends that were due
        self.late_sends = 0         # open model: sent later than LATE_US after schedule
        self.send_lag = LatencyHistogram()  # open model: how late each send was (µs)
        self.generators: list[GeneratorStats] = []

    # -- totals -------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)

    @property
    def failures(self) -> int:
        return sum(e.failures for e in self.endpoints)

    def overall_hist(self) -> LatencyHistogram:
        return LatencyHistogram.merged(e.hist for e in self.endpoints)

    def errors(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for e in self.endpoints:
            for cls, n in e.errors.items():
                total[cls] = total.get(cls, 0) + n
        return dict(sorted(total.items()))

    # -- merging ------------------------------------------------------------------------
    def add(self, other: RunStats) -> None:
        """Add another run's figures (runs in parallel: durations do not add)."""
        self._add_endpoints(other)
        self.duration_s = max(self.duration_s, other.duration_s)
        for i, interval in enumerate(other.timeline):
            if i < len(self.timeline):
                self.timeline[i].add(interval)
            else:
                copy_iv = Interval(t=interval.t)
                copy_iv.add(interval)
                self.timeline.append(copy_iv)

    def append(self, other: RunStats) -> None:
        """Add a run that came after this one (user steps, cycles): durations add and
        its timeline follows this one's."""
        self._add_endpoints(other)
        offset = len(self.timeline)
        for interval in other.timeline:
            copy_iv = Interval(t=interval.t + offset)
            copy_iv.add(interval)
            self.timeline.append(copy_iv)
        self.duration_s += other.duration_s

    def _add_endpoints(self, other: RunStats) -> None:
        """Counters, histograms and generator figures of ``other`` added to these."""
        mine = {e.key: e for e in self.endpoints}
        for e in other.endpoints:
            if e.key in mine:
                mine[e.key].add(e)
            else:
                copy = EndpointStats(*e.key[:4], weight=e.weight)
                copy.add(e)
                self.endpoints.append(copy)
                mine[e.key] = copy
        self.dropped += other.dropped
        self.cancelled += other.cancelled
        self.scheduled += other.scheduled
        self.late_sends += other.late_sends
        self.send_lag.add(other.send_lag)
        self.generators.extend(other.generators)
