"""The report's ``breakdown``: memory by process, garbage collection per phase, and
memory by component, from the monitor's per-process records and the agents' figures.

    breakdown(samples) -> {"processes": ..., "gc": ..., "components": ...}

Pure: samples in (tagged with ``phase``), plain data out.
"""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.memory import COOLDOWN_END_SHARE, noise_floor_of
from memory_analysis.analysis.stats import median
from memory_analysis.analysis.thresholds import IMBALANCE_FACTOR, RELEASED_SHARE

PHASES = ("baseline", "load", "cooldown")
RUNTIME = "Python runtime"
TRACEMALLOC = "tracemalloc (measuring)"
OTHER = "other processes"
# Roles listed first: the process that serves, alone ("service") or over its workers.
FIRST_ROLES = ("master", "service")
# What a report calls each runtime (``monitor.runtime.RUNTIMES``) in a sentence.
RUNTIME_NAMES = {"cpython": "CPython", "node": "Node.js", "jvm": "the JVM", "go": "Go",
                 "other": "a runtime the suite does not know"}


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _process_mb(record: dict[str, Any]) -> float | None:
    """A process's own memory: its PSS (its share of shared pages), else its RSS."""
    value = record.get("pss_mb")
    return value if value is not None else record.get("rss_mb")


# -- each process ---------------------------------------------------------------------
def processes_breakdown(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per process of the tree: its memory in each phase, its peak, its growth under
    load and what it held after; workers that grew far more than the others, or kept
    what they grew, are named in ``notes``."""
    series: dict[str, dict[str, Any]] = {}
    for sample in samples:
        for pid, record in ((sample.get("process") or {}).get("processes") or {}).items():
            mb = _process_mb(record)
            if mb is None:
                continue
            entry = series.setdefault(pid, {"name": record.get("name"),
                                            "role": record.get("role"),
                                            "values": {p: [] for p in PHASES},
                                            "first_t": sample["t"], "last_t": sample["t"]})
            entry["last_t"] = sample["t"]
            if entry["role"] != "master":
                # A service becomes a master when it forks its workers; a master whose
                # workers are between two generations stays one.
                entry["role"] = record.get("role")
            entry["values"].setdefault(sample.get("phase", "baseline"), []).append(mb)
    rows = []
    for pid, entry in series.items():
        values = entry["values"]
        every = [v for p in PHASES for v in values.get(p, [])]
        baseline = median(values["baseline"])
        load_peak = max(values["load"]) if values["load"] else None
        cooldown = values["cooldown"]
        after = median(cooldown[-max(1, round(len(cooldown) * COOLDOWN_END_SHARE)):]) \
            if cooldown else None
        start = baseline if baseline is not None else (every[0] if every else None)
        row: dict[str, Any] = {
            "pid": int(pid), "name": entry["name"], "role": entry["role"],
            "first_seen_s": entry["first_t"], "last_seen_s": entry["last_t"],
            "baseline_mb": _r(baseline), "peak_mb": _r(max(every)) if every else None,
            "load_peak_mb": _r(load_peak), "cooldown_end_mb": _r(after),
            "growth_under_load_mb": _r(load_peak - start)
            if load_peak is not None and start is not None else None,
            "held_after_load_mb": _r(after - start)
            if after is not None and start is not None else None,
            "noise_mb": _r(noise_floor_of(values["baseline"], start or 0.0)),
        }
        rows.append(row)
    rows.sort(key=lambda r: (r["role"] not in FIRST_ROLES, r["first_seen_s"], r["pid"]))
    return {"metric": "pss_mb, else rss_mb", "processes": rows, "notes": _process_notes(rows)}


def _process_notes(rows: list[dict[str, Any]]) -> list[str]:
    notes = []
    workers = [r for r in rows if r["growth_under_load_mb"] is not None]
    for row in workers:
        growth, held, noise = (row["growth_under_load_mb"], row["held_after_load_mb"],
                               row["noise_mb"])
        who = f"{row['role']} {row['pid']} ({row['name']})"
        others = [r["growth_under_load_mb"] for r in workers if r is not row
                  and r["role"] == row["role"]]
        typical = median(others)
        if (typical is not None and growth > noise
                and growth - max(typical, 0.0) > noise
                and growth >= IMBALANCE_FACTOR * max(typical, 0.0)):
            notes.append(f"{who} grew {growth:.1f} MB under load, the other "
                         f"{row['role']}s {typical:.1f} MB (median): unbalanced")
        peak_growth = (row["peak_mb"] or 0.0) - (row["baseline_mb"] or row["peak_mb"] or 0.0)
        if held is not None and held > noise and held >= RELEASED_SHARE * peak_growth:
            notes.append(f"{who} still held {held:.1f} MB more than its baseline at the end "
                         f"of the cooldown (at its peak {peak_growth:.1f} MB more)")
    return notes


# -- garbage collection per phase -----------------------------------------------------
def _gc_of(sample: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {pid: figures["gc"] for pid, figures in (sample.get("python") or {}).items()
            if figures.get("gc")}


def gc_breakdown(samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per phase, summed over the Python processes: collections and objects collected
    by generation, uncollectable objects, time in collections and the longest pause.

    The agents' counters are cumulative: what a process did between two of its
    readings is credited to the phase of the later one, so phases that recur (with
    --cycles) add up, and a process that started within a phase counts from its first
    reading. ``gc_time_percent`` is time in collections over the time each process was
    watched in the phase."""
    if not any(sample.get("python") for sample in samples):
        return None
    last: dict[str, tuple[float, dict[str, Any]]] = {}  # pid -> (t, gc figures)
    phases: dict[str, dict[str, Any]] = {}
    for sample in samples:
        phase = sample.get("phase", "baseline")
        totals = phases.setdefault(phase, {
            "collections": [0, 0, 0], "collected": [0, 0, 0], "uncollectable": 0,
            "pauses": 0, "pause_total_s": 0.0, "pause_longest_s": 0.0, "pids": set(),
            "watched_s": 0.0})
        for pid, gc in _gc_of(sample).items():
            totals["pids"].add(pid)
            previous = last.get(pid)
            last[pid] = (sample["t"], gc)
            if previous is None:
                # The first reading's longest pause is of every window the agent kept,
                # start-up included, which the totals (counted from here) leave out.
                continue
            totals["pause_longest_s"] = max(totals["pause_longest_s"],
                                            gc.get("pause_max_s") or 0.0)
            before = previous[1]
            totals["watched_s"] += sample["t"] - previous[0]
            for key in ("collections", "collected"):
                for gen, (a, b) in enumerate(zip(gc.get(key) or [], before.get(key) or [],
                                                 strict=False)):
                    if gen < 3:
                        totals[key][gen] += max(a - b, 0)
            totals["uncollectable"] += max(sum(gc.get("uncollectable") or [])
                                           - sum(before.get("uncollectable") or []), 0)
            totals["pauses"] += max((gc.get("pauses") or 0) - (before.get("pauses") or 0), 0)
            totals["pause_total_s"] += max((gc.get("pause_total_s") or 0.0)
                                           - (before.get("pause_total_s") or 0.0), 0.0)
    out = {}
    for phase in [p for p in PHASES if p in phases] + [p for p in phases if p not in PHASES]:
        totals = phases[phase]
        watched = totals.pop("watched_s")
        pids = totals.pop("pids")
        # One pause is part of the total: never longer, whatever the agents' rounding.
        longest = min(totals["pause_longest_s"], totals["pause_total_s"])
        out[phase] = {**totals, "pause_total_s": round(totals["pause_total_s"], 4),
                      "pause_longest_s": round(longest, 4),
                      "processes": len(pids), "watched_s": round(watched, 1),
                      "gc_time_percent": round(totals["pause_total_s"] * 100.0 / watched, 3)
                      if watched > 0 else None}
    return out


# -- memory by component --------------------------------------------------------------
def _snapshots(samples: list[dict[str, Any]]) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    """Per PID, each traced-memory snapshot with the time it was taken (samples' clock)."""
    out: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for sample in samples:
        for pid, figures in (sample.get("python") or {}).items():
            traced = figures.get("tracemalloc") or {}
            if traced.get("components_mb") is not None:
                at = traced.get("at")
                t = sample["t"] - (sample["time"] - at) if at and sample.get("time") \
                    else sample["t"]
                out.setdefault(pid, []).append((t, traced))
    return out


def _nearest(snapshots: list[tuple[float, dict[str, Any]]], t: float, before_only: bool
             ) -> tuple[float, dict[str, Any]] | None:
    usable = [s for s in snapshots if s[0] <= t + 1e-6] if before_only else snapshots
    if not usable:
        usable = snapshots
    return min(usable, key=lambda s: abs(s[0] - t)) if usable else None


def _moment(sample: dict[str, Any], snapshots: dict[str, list[tuple[float, dict[str, Any]]]],
            before_only: bool) -> dict[str, Any]:
    """Memory by component at one sample: each Python process's memory split as its
    nearest snapshot traced it; what was not traced is the Python runtime's."""
    totals: dict[str, float] = {}
    ages = []
    for pid, record in ((sample.get("process") or {}).get("processes") or {}).items():
        memory = _process_mb(record) or 0.0
        found = _nearest(snapshots.get(pid, []), sample["t"], before_only)
        if found is None:
            totals[OTHER] = totals.get(OTHER, 0.0) + memory
            continue
        t, traced = found
        ages.append(abs(sample["t"] - t))
        parts = dict(traced["components_mb"])
        parts[TRACEMALLOC] = traced.get("overhead_mb") or 0.0
        measured = sum(parts.values())
        # A forked worker traces what it inherited from its master too, though those
        # pages are shared (and so counted in part only in its PSS): split its memory
        # in the traced proportions then, leaving no runtime.
        scale = min(1.0, memory / measured) if measured > 0 else 0.0
        for name, mb in parts.items():
            totals[name] = totals.get(name, 0.0) + mb * scale
        totals[RUNTIME] = totals.get(RUNTIME, 0.0) + max(memory - measured, 0.0)
    total = sum(totals.values())
    return {"t": sample["t"], "total_mb": _r(total),
            "snapshot_age_s": _r(max(ages), 1) if ages else None,
            "components": totals}


def components_breakdown(samples: list[dict[str, Any]], peak_index: int | None,
                         runtime: str | None = None) -> dict[str, Any]:
    """Per component, its memory at the end of the baseline, at the peak and at the end
    of the cooldown, with its share of the service's memory then. ``runtime``: what the
    service runs on (the agent reports from CPython only)."""
    snapshots = _snapshots(samples)
    if not snapshots and runtime not in (None, "cpython"):
        return {"available": False,
                "reason": f"memory by component comes from the agent inside a CPython "
                          f"service; this one runs on {RUNTIME_NAMES.get(runtime, runtime)}"}
    if not snapshots:
        traced_any = any((f.get("tracemalloc") is not None)
                         for s in samples for f in (s.get("python") or {}).values())
        agents = any(s.get("python") for s in samples)
        reason = ("no agent reported from inside the service" if not agents else
                  "tracemalloc took no snapshot yet" if traced_any else
                  "memory by component needs tracemalloc: run with --tracemalloc")
        return {"available": False, "reason": reason}
    moments: dict[str, dict[str, Any]] = {}
    ends = {phase: max((i for i, s in enumerate(samples) if s.get("phase") == phase),
                       default=None) for phase in ("baseline", "cooldown")}
    for name, index, before_only in (("baseline_end", ends["baseline"], True),
                                     ("peak", peak_index, False),
                                     ("cooldown_end", ends["cooldown"], True)):
        if index is not None:
            moments[name] = _moment(samples[index], snapshots, before_only)
    names = sorted({n for m in moments.values() for n in m["components"]},
                   key=lambda n: -max(m["components"].get(n, 0.0) for m in moments.values()))
    rows = []
    for name in names:
        row: dict[str, Any] = {"name": name}
        for moment, figures in moments.items():
            mb = figures["components"].get(name, 0.0)
            total = sum(figures["components"].values())
            row[f"{moment}_mb"] = _r(mb)
            row[f"{moment}_share_percent"] = _r(mb * 100.0 / total) if total > 0 else None
        rows.append(row)
    return {"available": True,
            "note": (f"'{TRACEMALLOC}' is the memory tracemalloc reports using; the "
                     "allocator space its bookkeeping takes beyond that counts in "
                     f"'{RUNTIME}'"),
            "moments": {k: {"t": v["t"], "total_mb": v["total_mb"],
                            "snapshot_age_s": v["snapshot_age_s"]} for k, v in moments.items()},
            "components": rows}


def breakdown(samples: list[dict[str, Any]], peak_index: int | None = None,
              runtime: str | None = None) -> dict[str, Any]:
    """The report's ``breakdown`` block. ``peak_index``: the sample at the service's
    peak (default: the one with the most memory in the tree); ``runtime``: what the
    service runs on (``monitor.runtime``), None when unknown."""
    if peak_index is None and samples:
        tree = [(s.get("process") or {}).get("tree_mb") or 0.0 for s in samples]
        peak_index = max(range(len(samples)), key=tree.__getitem__)
    return {"processes": processes_breakdown(samples), "gc": gc_breakdown(samples),
            "components": components_breakdown(samples, peak_index, runtime)}
