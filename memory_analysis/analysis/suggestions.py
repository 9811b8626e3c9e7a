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

# What to look for, by runtime: the containers that only grow, in that runtime's words.
_GROWING = {
    "cpython": "module-level lists or dicts appended per request, caches without a size "
               "bound or expiry, callbacks, listeners or log handlers registered per "
               "request, and objects kept alive by closures or exceptions (tracebacks)",
    "node": "module-level arrays, Maps or objects appended per request, caches without a "
            "size bound or expiry, event listeners added per request and never removed "
            "(emitter.on without off), and objects kept alive by closures or timers",
    "jvm": "static collections (a static Map or List) filled per request, caches without "
           "a size bound or expiry, ThreadLocals set and never removed on pooled threads, "
           "and listeners registered per request",
    "go": "package-level maps and slices appended per request, caches without a size "
          "bound or expiry, goroutines that never return (blocked on a channel nobody "
          "closes), and tickers never stopped",
}
_GROWING_ANY = ("collections kept for the life of the process and appended per request, "
                "caches without a size bound or expiry, and listeners or callbacks "
                "registered per request")

# How to find it, by runtime: two looks at the heap, compared.
_FIND = {
    "cpython": "compare two tracemalloc snapshots (snapshot.compare_to(old, 'lineno')) "
               "taken {apart}, or run the service under memray; the lines whose allocations "
               "grow are the leak.",
    "node": "take two heap snapshots {apart} and compare them: start node with "
            "--heapsnapshot-signal=SIGUSR2 and send kill -USR2 <pid> for each (a "
            ".heapsnapshot file in its working directory), or start it with --inspect and "
            "take them in Chrome DevTools' Memory tab; the Comparison view lists the "
            "objects whose count grew.",
    "jvm": "take two heap dumps {apart} (jcmd <pid> GC.heap_dump /tmp/before.hprof, then "
           "after.hprof) and compare their class histograms in Eclipse MAT or VisualVM; "
           "start it with -XX:+HeapDumpOnOutOfMemoryError so a heap that runs out leaves "
           "a dump too.",
    "go": "import net/http/pprof and fetch two heap profiles {apart} (curl -o before.pb.gz "
          "http://127.0.0.1:PORT/debug/pprof/heap, then after.pb.gz), then go tool pprof "
          "-diff_base before.pb.gz after.pb.gz shows what grew (inuse_space); a goroutine "
          "leak shows in /debug/pprof/goroutine.",
}
_FIND_ANY = ("take two heap snapshots or profiles {apart} with the service's own runtime "
             "tools and compare them: what grew between them is the leak.")


def _find(runtime: str | None, apart: str) -> str:
    return "To find it: " + _FIND.get(runtime or "", _FIND_ANY).format(apart=apart)


def _leak(leak: dict[str, Any], runtime: str | None) -> list[str]:
    per_request = leak.get("bytes_per_request")
    if leak.get("follows") == "time":
        return [
            "Memory grows with time, load or not: look at what runs on its own — timers and "
            "scheduled jobs that append to a collection, background tasks started and never "
            "finished, queues that are filled faster than drained, and metrics or log "
            "buffers kept in memory.",
            _find(runtime, "a few minutes apart with the service idle"),
        ]
    size = f" ({kept_text(per_request)})" if per_request else ""
    return [
        f"Suspected leak{size}: look for containers that only grow — "
        f"{_GROWING.get(runtime or '', _GROWING_ANY)}.",
        _find(runtime, "a few thousand requests apart"),
    ]


def _held_by(runtime: str | None) -> str:
    """Why a healthy service of this runtime keeps memory after the load."""
    return {
        "cpython": "CPython's allocator keeps freed small objects in its pymalloc arenas for "
                   "reuse rather than returning them to the system",
        "node": "V8 keeps much of the heap it grew to, and collects its old space lazily "
                "while it is far from its limit",
        "jvm": "the JVM keeps the heap it grew to (most collectors give little back to the "
               "system)",
        "go": "Go's runtime returns freed memory to the system slowly, over minutes",
    }.get(runtime or "", "the runtime's allocator may keep freed memory for reuse rather "
                         "than return it to the system")


def _plateau_advice(runtime: str | None) -> str:
    """What cuts the plateau, in the runtime's own terms."""
    if runtime == "cpython":
        return ("glibc gives busy threads malloc arenas of their own (up to 8 per core), "
                "each keeping freed memory; setting MALLOC_ARENA_MAX=2 in the service's "
                "environment often cuts resident memory, and so can running under jemalloc "
                "(LD_PRELOAD). Avoid building large lists of small objects per request "
                "(stream or paginate instead).")
    if runtime == "node":
        return ("bound V8's heap below the container's memory with "
                "--max-old-space-size=MB (about three quarters of it: buffers and native "
                "memory live outside that heap), so it collects before the container is "
                "killed; stream large responses rather than building them whole.")
    if runtime == "jvm":
        return ("bound the heap against the container's memory with -Xmx or "
                "-XX:MaxRAMPercentage=75 (metaspace, thread stacks and direct buffers live "
                "outside it); the JVM's native allocations go through glibc's malloc, whose "
                "per-thread arenas MALLOC_ARENA_MAX=2 also trims.")
    if runtime == "go":
        return ("set GOMEMLIMIT a little below the container's memory (e.g. 90 % of it), "
                "so the collector works harder and returns memory sooner as the limit "
                "nears; a lower GOGC trades CPU for a smaller heap.")
    return ("look for the runtime's own heap limit and set it below the container's "
            "memory, and avoid building large responses whole (stream or paginate).")


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


def _retention(memory: dict[str, Any], runtime: str | None) -> list[str]:
    verdict = str((memory.get("leak") or {}).get("verdict"))
    stopped = {"no leak": "but stopped growing: it is held, not leaked",
               "too short to tell": "(whether it has stopped growing, this run was too short "
                                    "to tell)"}.get(verdict, "(whether it kept growing was not "
                                                             "judged)")
    return [
        f"Memory stayed near its peak after the load (recovery "
        f"{memory['recovery_percent']:.0f} %) {stopped}. "
        "Caches keep what they store (bound them by size or give entries an expiry), and "
        f"{_held_by(runtime)}. Size the service for this plateau.",
        f"If the plateau is too high for your plan: {_plateau_advice(runtime)}",
    ]


# How many of the slowest heavy endpoints a suggestion names.
SLOW_ENDPOINTS_NAMED = 3


def _slowest(load_test: dict[str, Any], category: str) -> str:
    """The slowest endpoints of a category, by p95, as ``name (p95 N ms)``; empty
    without per-endpoint figures."""
    rows = [(e["latency_ms"]["p95"], e["name"]) for e in load_test.get("endpoints") or []
            if e.get("category") == category and e.get("requests")
            and (e.get("latency_ms") or {}).get("p95") is not None]
    rows.sort(key=lambda row: -row[0])
    return ", ".join(f"{name} (p95 {p95:.0f} ms)"
                     for p95, name in rows[:SLOW_ENDPOINTS_NAMED])


def _latency(load_test: dict[str, Any]) -> list[str]:
    out = []
    categories = load_test.get("categories") or {}
    heavy = ((categories.get("heavy") or {}).get("latency_ms") or {}).get("p95")
    light = ((categories.get("light") or {}).get("latency_ms") or {}).get("p95")
    slow = heavy is not None and heavy >= HEAVY_FLOOR_MS
    if slow and (not light or heavy >= HEAVY_RATIO * light):
        versus = f" against {light:.0f} ms for light ones" if light else ""
        named = _slowest(load_test, "heavy")
        slowest = f"; the slowest: {named}" if named else ""
        out.append(f"Heavy endpoints answer slowly (p95 {heavy:.0f} ms{versus}{slowest}): "
                   "cache their results, move their CPU-bound work off the request path (a "
                   "worker pool or a queue), or precompute it; slow requests also hold "
                   "their memory longer, which raises the peak under load.")
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
                load_test: dict[str, Any] | None, scaling: dict[str, Any],
                runtime: str | None = None, oom_killed: bool = False) -> list[str]:
    """Plain-language suggestions, most important first. ``runtime``: what the service
    runs on (``monitor.runtime.RUNTIMES``), so the advice names that runtime's tools;
    None (unknown) gives advice no runtime's tools. ``oom_killed``: the kernel killed
    it (or a worker) for memory in the limit it ran in."""
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
        fixes += _leak(leak, runtime)
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
        fixes += _retention(memory, runtime)
    peak = assessment.get("peak_percent_of_limit")
    if oom_killed:
        fixes.append(f"It was OOM-killed in {describe(judged)}: give it more memory "
                     "(--find-minimum measures the least that serves this load) or reduce "
                     "what it holds.")
    elif peak is not None and shown(peak, 1) >= PEAK_WARNING_PERCENT:
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
