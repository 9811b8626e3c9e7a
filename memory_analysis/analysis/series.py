"""Which memory figure stands for "the service", pulled out of the monitor's samples.

Service memory is what a platform would charge for the whole service: the working set
of its own memory cgroup when it has one (what Kubernetes and the OOM killer act on),
otherwise the process tree with shared pages counted once: "service_tree" (anonymous
memory by PSS within the tree, file-backed memory once; the monitor's
``tree_service_mb``) where the kernel splits PSS by kind, else the PSS sum ("pss_tree"),
else the RSS sum when PSS could not be read ("rss_tree").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PHASES = ("baseline", "load", "cooldown")
# Each endpoint alone after the load (--attribute): a phase of its own, which the load's
# and the cooldown's figures leave out.
ATTRIBUTE = "attribute"


@dataclass
class MemorySeries:
    """Service memory over time, one point per sample that had the figure.

    ``metric``: "working_set" (the service's cgroup), "service_tree", "pss_tree" or
    "rss_tree"; None
    when no sample had service memory at all.
    ``system_source``: "cgroup_limit" when system % is the cgroup's usage of its memory
    limit, "host" when it is the machine's (``/proc/meminfo``).
    ``unsampled_peak_mb``: how far the kernel's high-water mark went above the highest
    sampled figure during the run (a spike between two samples), 0 when it did not.
    """

    metric: str | None
    t: list[float] = field(default_factory=list)
    mb: list[float] = field(default_factory=list)
    phase: list[str | None] = field(default_factory=list)
    load_users: list[int | None] = field(default_factory=list)
    cycle: list[int] = field(default_factory=list)
    system_percent: list[float | None] = field(default_factory=list)
    system_source: str = "host"
    unsampled_peak_mb: float = 0.0
    peak_note: str | None = None

    def points(self, phase: str) -> tuple[list[float], list[float]]:
        """(t, mb) of the points in ``phase``."""
        picked = [(t, mb) for t, mb, p in zip(self.t, self.mb, self.phase, strict=True)
                  if p == phase]
        return [t for t, _ in picked], [mb for _, mb in picked]

    def stretches(self) -> list[Stretch]:
        """The load and cooldown samples cut where the phase, the users or the cycle
        change: each stretch ran under one steady load (cooldown: none). Samples taken
        between two user steps (the load tester restarting) belong to no stretch."""
        out: list[Stretch] = []
        key = None
        stepped = any(u for u, p in zip(self.load_users, self.phase, strict=True)
                      if p == "load")
        for t, mb, phase, users, cycle in zip(self.t, self.mb, self.phase, self.load_users,
                                              self.cycle, strict=True):
            users = (users or 0) if phase == "load" else 0
            if phase not in ("load", "cooldown") or (phase == "load" and stepped and not users):
                key = None
                continue
            if (phase, users, cycle) != key:
                key = (phase, users, cycle)
                out.append(Stretch(phase=phase, users=users, cycle=cycle))
            out[-1].t.append(t)
            out[-1].mb.append(mb)
        return out


@dataclass
class Stretch:
    """Consecutive samples under one steady load: a load step of one cycle, or a cooldown."""

    phase: str
    users: int
    cycle: int
    t: list[float] = field(default_factory=list)
    mb: list[float] = field(default_factory=list)


def memory_of(sample: dict[str, Any], metric: str | None) -> float | None:
    """One sample's service memory by ``metric`` (the report's ``memory.metric``)."""
    if metric == "working_set":
        group = sample.get("cgroup") or {}
        return group.get("working_set_mb")
    process = sample.get("process") or {}
    if metric == "service_tree":
        return process.get("tree_service_mb")
    return process.get("tree_mb")


def choose_metric(samples: list[dict[str, Any]], service_cgroup: bool,
                  tree_metric: str | None) -> str | None:
    """The metric name; the cgroup's working set when the service has its own cgroup
    (otherwise the cgroup also holds the monitor, the load tester, a whole container), or
    when there is nothing else; None when the samples hold no memory figure at all."""
    has_cgroup = any((s.get("cgroup") or {}).get("working_set_mb") is not None for s in samples)
    has_tree = any((s.get("process") or {}).get("tree_mb") is not None for s in samples)
    has_service = bool(samples) and all(
        (s.get("process") or {}).get("tree_service_mb") is not None for s in samples)
    if service_cgroup and has_cgroup:
        return "working_set"
    if has_service:
        return "service_tree"
    if has_tree:
        return "pss_tree" if tree_metric == "pss" else "rss_tree"
    return "working_set" if has_cgroup else None


def _system_source(samples: list[dict[str, Any]]) -> str:
    """"cgroup_limit" when the samples' cgroup has a memory limit, else "host".

    Inside a container the host's ``/proc/meminfo`` says nothing about the limit that
    kills the service; the cgroup's usage of its own limit does. So when a limit is
    known, "system memory %" in the level table means that.
    """
    limited = any((s.get("cgroup") or {}).get("percent") is not None for s in samples)
    return "cgroup_limit" if limited else "host"


def _system_percent(sample: dict[str, Any], source: str) -> float | None:
    if source == "cgroup_limit":
        return (sample.get("cgroup") or {}).get("percent")
    return (sample.get("system") or {}).get("percent")


def _unsampled_peak(samples: list[dict[str, Any]], metric: str | None,
                    sampled_max: float | None) -> tuple[float, str | None]:
    """The kernel's peak beyond the sampled one, counted only if it rose during the run.

    The kernel's figure (VmHWM of the main process; the cgroup's ``peak_mb``, the run's
    own peak of its usage, see ``monitor.cgroup``) is RSS or usage, so it is compared
    with the sampled RSS or usage on the same basis; the difference, a spike the samples
    missed, is what gets added to the service peak. A peak that was already there at the
    first sample predates the run (start-up) and is
    reported but not counted, so it cannot distort the recovery figure.
    """
    if metric == "working_set":
        section, peak_key, basis_key = "cgroup", "peak_mb", "usage_mb"
    else:
        section, peak_key, basis_key = "process", "hwm_mb", "rss_mb"
    peaks: list[float] = [p for p in ((s.get(section) or {}).get(peak_key) for s in samples)
                          if p is not None]
    basis: list[float] = [b for b in ((s.get(section) or {}).get(basis_key) for s in samples)
                          if b is not None]
    if not peaks or not basis or sampled_max is None:
        return 0.0, None
    spike = peaks[-1] - max(basis)
    if spike <= 0:
        return 0.0, None
    if peaks[-1] <= peaks[0]:
        return 0.0, (f"the kernel's high-water mark ({peaks[-1]:.1f} MB) was reached before "
                     "the run started (start-up); not counted in the peak")
    return spike, (f"includes {spike:.1f} MB the kernel's high-water mark saw between two "
                   "samples")


def service_memory(samples: list[dict[str, Any]], service_cgroup: bool = False,
                   tree_metric: str | None = "pss") -> MemorySeries:
    """Service memory series (MB) from the monitor's samples, tagged with their phases.

    ``service_cgroup``: the service runs in a memory cgroup of its own.
    ``tree_metric``: "pss" when the monitor summed the tree by PSS, "rss" otherwise.
    """
    metric = choose_metric(samples, service_cgroup, tree_metric)
    source = _system_source(samples)
    series = MemorySeries(metric=metric, system_source=source)
    for sample in samples:
        value = memory_of(sample, metric)
        if value is None:
            continue
        series.t.append(float(sample.get("t", 0.0)))
        series.mb.append(float(value))
        series.phase.append(sample.get("phase"))
        series.load_users.append(sample.get("load_users"))
        series.cycle.append(int(sample.get("cycle") or 1))
        series.system_percent.append(_system_percent(sample, source))
    series.unsampled_peak_mb, series.peak_note = _unsampled_peak(
        samples, metric, max(series.mb) if series.mb else None)
    return series


def limits_seen(samples: list[dict[str, Any]]) -> dict[str, float | None]:
    """What the samples say about the memory around the service: the cgroup's limit and
    the highest share of it in use, the host's memory (MB), the highest share of it in
    use by everything on the host, and what was used and available (MB) at that moment."""
    groups = [s.get("cgroup") or {} for s in samples]
    systems = [s.get("system") or {} for s in samples]
    limits = [g["limit_mb"] for g in groups if g.get("limit_mb")]
    cgroup_percents = [g["percent"] for g in groups if g.get("percent") is not None]
    totals = [s["total_mb"] for s in systems if s.get("total_mb")]
    fullest = max((s for s in systems if s.get("percent") is not None),
                  key=lambda s: s["percent"], default=None)
    return {"cgroup_limit_mb": min(limits) if limits else None,
            "cgroup_peak_percent": max(cgroup_percents) if cgroup_percents else None,
            "host_total_mb": totals[-1] if totals else None,
            "host_peak_percent": fullest["percent"] if fullest else None,
            "host_used_mb_at_peak": (fullest or {}).get("used_mb"),
            "host_available_mb_at_peak": (fullest or {}).get("available_mb")}
