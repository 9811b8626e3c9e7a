"""Suggestions that follow from the findings: each one names the figure behind it."""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.analysis.attribution import endpoint_text, kept_by
from memory_analysis.analysis.leak import kept_text
from memory_analysis.analysis.level import held_matters
from memory_analysis.analysis.limits import describe
from memory_analysis.analysis.thresholds import (
    ERROR_RATE_NOTE,
    HEAVY_FLOOR_MS,
    HEAVY_RATIO,
    PEAK_WARNING_PERCENT,
    RECOVERY_SAFE_PERCENT,
    shown,
)


def _leak(leak: dict[str, Any]) -> list[str]:
    per_request = leak.get("bytes_per_request")
    if leak.get("follows") == "time":
        return [
            "Memory grows with time, load or not: look at what runs on its own — timers and "
            "scheduled jobs that append to a list, background tasks that are created and "
            "never awaited or cancelled, queues that are filled faster than drained, and "
            "metrics or log buffers kept in memory.",
            "To find it: compare two tracemalloc snapshots taken a few minutes apart with "
            "the service idle (snapshot.compare_to(old, 'lineno')), or run it under memray.",
        ]
    size = f" ({kept_text(per_request)})" if per_request else ""
    return [
        f"Suspected leak{size}: look for containers that only grow — module-level lists or "
        "dicts appended per request, caches without a size bound or expiry, callbacks, "
        "listeners or log handlers registered per request, and objects kept alive by "
        "closures or exceptions (tracebacks).",
        "To find it: compare two tracemalloc snapshots (snapshot.compare_to(old, 'lineno')) "
        "taken a few thousand requests apart, or run the service under memray; the lines "
        "whose allocations grow with the request count are the leak.",
    ]


def _attribution(leak: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(fixes, notes) on which endpoint keeps the memory: the endpoints --attribute
    named, what it found when it named none, or, for a leak without it, that it would
    name the endpoint."""
    rows = leak.get("endpoints")
    attribution = leak.get("attribution")
    if rows:
        keeping = kept_by(rows)
        if keeping:
            others = [r["name"] for r in rows if not r.get("keeps")]
            rest = (f"; {', '.join(others)} kept about nothing alone" if others else "")
            return ([f"The memory is kept by {' and '.join(r['name'] for r in keeping)}: "
                     + "; ".join(endpoint_text(r) for r in keeping) + rest
                     + ". Look there first (what each of its requests appends or caches)."],
                    [])
        return [], ["Sent alone (--attribute), no endpoint kept memory clearly above the "
                    "others: the growth may need requests together (one fills what another "
                    "reads), follow the clock, or be a warm-up; see memory.leak.endpoints."]
    if attribution is not None:
        skipped = attribution.get("skipped")
        return [], ([f"--attribute did not run: {skipped}."] if skipped else [])
    if leak.get("suspected") and leak.get("follows") != "time":
        return [], ["Which endpoint keeps the memory: run again with --attribute, which sends "
                    "each endpoint alone after the load and names the one that keeps it, with "
                    "its bytes per request."]
    return [], []


def _retention(memory: dict[str, Any]) -> list[str]:
    verdict = str((memory.get("leak") or {}).get("verdict"))
    stopped = {"no leak": "but stopped growing: it is held, not leaked",
               "too short to tell": "(whether it has stopped growing, this run was too short "
                                    "to tell)"}.get(verdict, "(whether it kept growing was not "
                                                             "judged)")
    return [
        f"Memory stayed near its peak after the load (recovery "
        f"{memory['recovery_percent']:.0f} %) {stopped}. "
        "Caches keep what they store (bound them by size or give entries an expiry), and "
        "CPython's allocator keeps freed small objects in its pymalloc arenas for reuse "
        "rather than returning them to the system. Size the service for this plateau.",
        "If the plateau is too high for your plan: glibc gives busy threads malloc arenas of "
        "their own (up to 8 per core), each keeping freed memory; setting "
        "MALLOC_ARENA_MAX=2 in the service's environment often "
        "cuts resident memory, and so can running under jemalloc (LD_PRELOAD). Avoid building "
        "large lists of small objects per request (stream or paginate instead).",
    ]


def _latency(load_test: dict[str, Any]) -> list[str]:
    out = []
    categories = load_test.get("categories") or {}
    heavy = ((categories.get("heavy") or {}).get("latency_ms") or {}).get("p95")
    light = ((categories.get("light") or {}).get("latency_ms") or {}).get("p95")
    slow = heavy is not None and heavy >= HEAVY_FLOOR_MS
    if slow and (not light or heavy >= HEAVY_RATIO * light):
        versus = f" against {light:.0f} ms for light ones" if light else ""
        out.append(f"Heavy endpoints answer slowly (p95 {heavy:.0f} ms{versus}): cache their "
                   "results, move CPU-bound work (indicators, pattern detection) off the event "
                   "loop to a process pool, or precompute it; slow requests also hold their "
                   "memory longer, which raises the peak under load.")
    error_rate = load_test.get("error_rate")
    if error_rate is not None and error_rate > ERROR_RATE_NOTE:
        errors = load_test.get("errors") or {}
        commonest = sorted(errors.items(), key=lambda kv: -kv[1])[:3]
        top = ", ".join(f"{k} {v}" for k, v in commonest if v)
        out.append(f"{error_rate * 100:.1f} % of requests failed{f' ({top})' if top else ''}: "
                   "the memory figures describe a service that was partly refusing work; fix "
                   "the errors and measure again.")
    return out


def suggestions(memory: dict[str, Any], assessment: dict[str, Any],
                load_test: dict[str, Any] | None, scaling: dict[str, Any]) -> list[str]:
    """Plain-language suggestions, most important first."""
    fixes: list[str] = []   # something to change or look into
    notes: list[str] = []   # ways to learn more from the next run
    leak = memory.get("leak") or {}
    judged = assessment.get("judged_against") or {}
    if memory.get("peak_mb") is None:
        notes.append("Service memory was not observed (a remote service): the figures above "
                     "are load and latency only. Run the analysis where the service runs "
                     "(--pid or --service-cmd) to size it.")
    named, about = _attribution(leak)
    fixes += named
    notes += about
    if leak.get("suspected"):
        fixes += _leak(leak)
    elif leak.get("verdict") == "too short to tell":
        needed = leak.get("run_needed_s")
        # The length the verdict asked for, up to the next half minute, a minute at least.
        longer = (f" (about --load-test {max(60, math.ceil(needed / 30) * 30)})"
                  if needed else "")
        notes.append("Whether it leaks could not be told from a run this short: run a longer "
                     f"load phase{longer}, or repeat load and cooldown with --cycles 2 or 3 "
                     "(growth in every cycle is a leak, in the first only a plateau).")
    recovered = memory.get("recovery_percent")
    if (not leak.get("suspected") and recovered is not None
            and shown(recovered, 0) <= RECOVERY_SAFE_PERCENT
            and not memory.get("growth_negligible")
            and held_matters(memory.get("held_mb"), judged.get("limit_mb"))):
        fixes += _retention(memory)
    peak = assessment.get("peak_percent_of_limit")
    if peak is not None and shown(peak, 1) >= PEAK_WARNING_PERCENT:
        fixes.append(f"The peak reached {shown(peak, 1):.1f} % of {describe(judged)}: leave "
                     "room for spikes the test did not produce, or the service risks an OOM "
                     "kill; give it more memory or reduce what it holds.")
    if judged.get("source") == "host":
        notes.append("The level was judged against this machine's memory; pass "
                     "--target-memory (e.g. 512M) or --plan (e.g. render:starter) to judge it "
                     "against the memory it will get where it is deployed.")
    if memory.get("growth_negligible"):
        notes.append(f"Memory hardly moved under load (+{memory.get('growth_mb', 0):.1f} MB): "
                     "either the service is frugal, or the load did not reach the costly "
                     "paths; try more users, --users-steps, or a scenario with your heaviest "
                     "requests.")
    if scaling.get("basis") == "one load level" and scaling.get("strategy") != "optimize":
        notes.append("Scaling was judged from one load level; run with --users-steps "
                     "5,10,20,40 to measure how memory grows with load.")
    fixes += _latency(load_test or {})
    if assessment.get("level") == "safe" and not fixes and leak.get("verdict") == "no leak":
        notes.append("Nothing to fix: memory stayed well under the limits and did not keep "
                     f"growing. Deploy with the recommended memory and alert at "
                     f"{PEAK_WARNING_PERCENT:.0f} %.")
    return fixes + notes
