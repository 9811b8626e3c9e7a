"""Suggestions that follow from the findings: each one names the figure behind it."""

from __future__ import annotations

from typing import Any

# Heavy endpoints are worth a note when their p95 is this many times the light ones'
# and above an absolute floor a user would notice.
HEAVY_RATIO = 3.0
HEAVY_FLOOR_MS = 200.0
ERROR_RATE_NOTE = 0.01


def _leak(leak: dict[str, Any]) -> list[str]:
    per_request = leak.get("bytes_per_request")
    size = f" (about {per_request / 1024:.1f} KB per request)" if per_request else ""
    return [
        f"Suspected leak{size}: look for containers that only grow — module-level lists or "
        "dicts appended per request, caches without a size bound or expiry, callbacks, "
        "listeners or log handlers registered per request, and objects kept alive by "
        "closures or exceptions (tracebacks).",
        "To find it: compare two tracemalloc snapshots (snapshot.compare_to(old, 'lineno')) "
        "taken a few thousand requests apart, or run the service under memray; the lines "
        "whose allocations grow with the request count are the leak.",
    ]


def _retention(memory: dict[str, Any]) -> list[str]:
    return [
        f"Memory stayed near its peak after the load (recovery "
        f"{memory['recovery_percent']:.0f} %) but stopped growing: it is held, not leaked. "
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
    out: list[str] = []
    leak = memory.get("leak") or {}
    if memory.get("peak_mb") is None:
        out.append("Service memory was not observed (a remote service): the figures above are "
                   "load and latency only. Run the analysis where the service runs (--pid or "
                   "--service-cmd) to size it.")
    if leak.get("suspected"):
        out += _leak(leak)
    elif memory.get("recovery_percent") is not None and memory["recovery_percent"] <= 80:
        out += _retention(memory)
    system = memory.get("peak_system_percent")
    if system is not None and system >= 80:
        where = ("the container's memory limit" if memory.get("system_percent_source") ==
                 "cgroup_limit" else "the host's memory")
        out.append(f"Peak system memory reached {system:.0f} % of {where}: leave room for "
                   "spikes the test did not produce, or the service risks an OOM kill; raise "
                   "the limit or move other workloads off the machine.")
    growth, noise = memory.get("growth_mb"), memory.get("noise_floor_mb")
    if growth is not None and noise is not None and growth < noise:
        out.append(f"Memory hardly moved under load (+{growth:.1f} MB): either the service "
                   "is frugal, or the load did not reach the costly paths; try more users, "
                   "--users-steps, or a scenario with your heaviest requests.")
    if scaling.get("basis") == "one load level" and scaling.get("strategy") != "optimize":
        out.append("Scaling was judged from one load level; run with --users-steps 5,10,20 "
                   "to measure how memory grows with users.")
    out += _latency(load_test or {})
    if assessment.get("level") == "safe" and not out:
        out.append("Nothing to fix: memory came back after the load and stayed well under the "
                   "limits. Deploy with the recommended memory and alert at 80 %.")
    return out
