"""The whole verdict in one call: samples and load figures in, report blocks out.

    from memory_analysis.analysis.analyze import analyze
    blocks = analyze(samples, load_test, {"service_cgroup": False, "tree_metric": "pss"})
    report.update(blocks)  # phases, memory, assessment, recommendations, breakdown

Pure apart from reading the bundled plan catalogs when the caller passes none.
"""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.attribution import attribute
from memory_analysis.analysis.breakdown import breakdown
from memory_analysis.analysis.catalogs import load_catalogs
from memory_analysis.analysis.leak import (
    LoadSegment,
    leak_verdict,
    not_judged,
    worth_caring_mb_per_min,
)
from memory_analysis.analysis.level import assess_level, held_matters, host_state
from memory_analysis.analysis.limits import judged_against
from memory_analysis.analysis.memory import memory_block
from memory_analysis.analysis.phases import phase_stats
from memory_analysis.analysis.plans import plans_until_leak, recommend_cheapest, recommend_plans
from memory_analysis.analysis.scaling import instances_by_cost, scaling_verdict, step_levels
from memory_analysis.analysis.series import MemorySeries, limits_seen, service_memory
from memory_analysis.analysis.shape import Settled, settle_series
from memory_analysis.analysis.sizing import requirements
from memory_analysis.analysis.suggestions import suggestions
from memory_analysis.analysis.thresholds import (
    LATE_SAMPLE_GAP,
    LATE_SAMPLES_SHARE,
    NEGLIGIBLE_GROWTH_MB,
    RECOVERY_CRITICAL_PERCENT,
    shown,
)
from memory_analysis.analysis.trend import level_se


def load_figures(load_test: dict[str, Any] | None) -> dict[str, Any]:
    """The load figures the analysis uses, from either the runner's ``load_test`` block
    (``requests``, ``duration_s``, ...) or a whole load tester report (``totals``)."""
    if not load_test:
        return {}
    if "totals" in load_test:
        totals = load_test["totals"]
        return {**totals, "latency_ms": load_test.get("latency_ms", {}),
                "categories": load_test.get("categories", {}),
                "endpoints": endpoint_figures(load_test.get("endpoints")),
                "errors": load_test.get("errors", {}),
                "timeline": load_test.get("timeline")}
    return load_test


def endpoint_figures(endpoints: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Each endpoint of a load tester report as the analysis uses it: its name, method,
    path, category, requests, failures and latency (without its histogram)."""
    keys = ("name", "method", "path", "category", "requests", "failures", "latency_ms")
    return [{k: e.get(k) for k in keys} for e in endpoints or []]


def mean_in_flight(requests: float, mean_latency_ms: float | None,
                   duration_s: float | None) -> float | None:
    """Mean requests in flight over a run, by Little's law: arrival rate × time in system."""
    if not requests or not mean_latency_ms or not duration_s or duration_s <= 0:
        return None
    return requests / duration_s * mean_latency_ms / 1000.0


def _segments(options: dict[str, Any], load: dict[str, Any],
              series: MemorySeries) -> list[dict[str, Any]]:
    """The load tester's runs on the samples' clock: as the caller gave them, or one
    run spanning the load phase, from the load figures."""
    if options.get("segments") is not None:
        return list(options["segments"])
    load_t = [t for t, p in zip(series.t, series.phase, strict=True) if p == "load"]
    if not load_t:
        return []
    start = options.get("load_start_t", load_t[0])
    duration = load.get("duration_s") or (load_t[-1] - start)
    return [{"start_t": start, "end_t": start + duration, "users": options.get("users"),
             "requests": load.get("requests") or 0, "timeline": load.get("timeline"),
             "mean_in_flight": mean_in_flight(load.get("requests") or 0,
                                              (load.get("latency_ms") or {}).get("mean"),
                                              duration)}]


def _steps(settled: list[tuple[Any, Settled]], segments: list[dict[str, Any]],
           noise_mb: float) -> list[dict[str, Any]]:
    """Each user step's settled level, its uncertainty, peak and measured concurrency."""
    by_users: dict[int, list[tuple[Any, Settled]]] = {}
    for stretch, points in settled:
        if stretch.phase == "load" and stretch.users:
            by_users.setdefault(stretch.users, []).append((stretch, points))
    rows = []
    for users, group in sorted(by_users.items()):
        values = [v for _, p in group for v in p.mb]
        if not values:
            continue
        flights = [s["mean_in_flight"] for s in segments
                   if s.get("users") == users and s.get("mean_in_flight")]
        rows.append((users, sum(flights) / len(flights) if flights else None,
                     sum(values) / len(values), level_se(values),
                     max(v for s, _ in group for v in s.mb)))
    return step_levels(rows, noise_mb)


def analyze(samples: list[dict[str, Any]], load_test: dict[str, Any] | None = None,
            options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's ``phases``, ``memory``, ``assessment`` and ``recommendations`` blocks.

    ``samples``: the monitor's samples, each tagged with ``phase`` ("baseline" | "load" |
    "cooldown"), and with user steps or cycles ``load_users`` and ``cycle``.
    ``load_test``: the load figures (see ``load_figures``): requests, duration, latency.
    ``options`` (all optional):
      ``service_cgroup`` (bool): the service has a memory cgroup of its own, so its
        working set is the service memory (default False);
      ``tree_metric`` ("pss" | "rss"): how the monitor summed the process tree;
      ``users`` (int): users of a run without steps, for the scaling reason;
      ``segments`` (list of {"start_t", "end_t", "users", "cycle", "requests",
        "mean_in_flight", "timeline"}): each run of the load tester on the samples'
        clock; default one run over the load phase from ``load_test``;
      ``load_start_t`` (float): when that default run started (samples' clock);
      ``target_memory_mb`` (float) or ``plan`` (``limits.find_plan``): the memory the
        service will get, to judge against;
      ``limit_source`` ("memory_limit" | "plan" | "target_memory"): the runner ran the
        service in a memory cgroup of that size (``limits.judged_against``);
      ``catalogs`` (list): validated catalogs (``catalogs.load_catalogs``); default bundled;
      ``end`` (``level.RunEnd``): how the run ended, when the service died or the load
        failed (the level says so);
      ``looks`` (int): how many looks at the leak a run whose length the leak test
        chooses (``--load-test auto``) may take in all (``runlength.look_times``);
      ``runtime`` ("cpython" | "node" | "jvm" | "go" | "other"): what the service runs
        on (``monitor.runtime``), for advice in its own terms; default unknown;
      ``attribution`` (--attribute): {"by", "stretch_s", "note", "stretches": [{"name",
        "category", "start_t", "end_t", "requests", "timeline"}]} for each endpoint sent
        alone after the load (samples tagged "attribute"), or {"skipped": why}; adds
        ``memory.leak.endpoints`` and ``memory.leak.attribution``.
    """
    options = options or {}
    load = load_figures(load_test)
    series = service_memory(samples, bool(options.get("service_cgroup", False)),
                            options.get("tree_metric", "pss"))
    phases = phase_stats(series)
    memory = memory_block(series)
    seen = limits_seen(samples)
    judged = judged_against(seen["cgroup_limit_mb"], seen["host_total_mb"],
                            options.get("target_memory_mb"), options.get("plan"),
                            options.get("limit_source"))
    peak = memory["peak_mb"]
    needs = requirements(peak)
    catalogs = options.get("catalogs")
    if catalogs is None:
        catalogs = load_catalogs()
    plans = recommend_plans(catalogs, needs["min_memory_mb"], needs["recommended_memory_mb"],
                            peak)
    segments = _segments(options, load, series)
    settled = settle_series(series) if series.mb else []
    # The memory a leak runs into: its headroom and its time to the limit are both
    # counted against it.
    ceiling, ceiling_name = _ceiling(judged, plans, needs)
    if series.mb:
        memory["leak"] = leak_verdict(
            series, [LoadSegment.of(s) for s in segments],
            worth_caring_mb_per_min(ceiling, peak), ceiling, peak, ceiling_name,
            looks=options.get("looks", 1))
    else:
        memory["leak"] = not_judged("service memory was not observed")
    asked = options.get("attribution")
    if asked is not None:
        if asked.get("stretches") and series.mb:
            memory["leak"]["endpoints"] = attribute(series, asked["stretches"])
        memory["leak"]["attribution"] = {k: v for k, v in asked.items() if k != "stretches"}

    # The service's own peak against what it is judged against; for a cgroup, its
    # working set of its limit. Never the host's used memory: other programs' is not the
    # service's (the host's own state is reported beside the level).
    if judged["source"] == "cgroup":
        peak_percent = seen["cgroup_peak_percent"] if series.mb else None
    else:
        peak_percent = (None if peak is None or not judged.get("limit_mb")
                        else peak * 100.0 / judged["limit_mb"])
    leak = memory["leak"] if series.mb else None
    assessment = assess_level(peak_percent, memory["recovery_percent"], judged, leak,
                              memory.get("held_mb"), bool(memory.get("growth_negligible")),
                              options.get("end"),
                              (phases.get("load") or {}).get("memory_mb", {}).get("max"),
                              load.get("requests"))
    host = host_state(seen, peak)
    if host is not None:
        assessment["host"] = host
    noise = memory.get("noise_floor_mb") or NEGLIGIBLE_GROWTH_MB
    scaling = scaling_verdict(_steps(settled, segments, noise),
                              options.get("users"), _optimise_first(memory, judged),
                              _grew_within_steps(memory["leak"]))
    # Beside the seed's rule, what serving the measured load costs on 1, 2, 4, 8 instances.
    scaling = instances_by_cost(scaling, peak, memory.get("baseline_mb"), catalogs)
    # A leaking service's plans are a delay, not a size: how long each lasts.
    plans, sizing_note = plans_until_leak(plans, memory["leak"], peak)
    recommendations: dict[str, Any] = {
        **needs,
        "plans": plans,
        "cheapest": recommend_cheapest(catalogs, needs["min_memory_mb"],
                                       needs["recommended_memory_mb"]),
        "scaling": scaling,
    }
    if sizing_note:
        recommendations["sizing_note"] = sizing_note
    runtime = options.get("runtime")
    end = options.get("end")
    killed = end is not None and bool(end.oom_kills
                                      or (end.service_exit or {}).get("oom_killed"))
    recommendations["suggestions"] = suggestions(memory, assessment, load, scaling, runtime,
                                                 killed)
    return {"phases": phases, "memory": memory, "assessment": assessment,
            "recommendations": recommendations,
            "breakdown": breakdown(samples, runtime=runtime)}


def condition_notes(report: dict[str, Any]) -> list[str]:
    """What the report's ``problems`` say of the conditions the run was made in: the
    host's own state (other programs holding most of its memory), and a machine so busy
    that the monitor was kept waiting (its samples late), which the verdict weighs by
    giving it no more than medium confidence."""
    notes = []
    host = (report.get("assessment") or {}).get("host")
    if host:
        notes.append(host["note"])
    late = ((report.get("memory") or {}).get("leak") or {}).get("late_samples_share")
    if late is not None and late >= LATE_SAMPLES_SHARE:
        notes.append(f"the machine was busy: {late:.0%} of the load's samples came late "
                     f"(over {LATE_SAMPLE_GAP:g} times the interval after the one before), as "
                     "the monitor itself was kept waiting; the leak verdict gets no more "
                     "than medium confidence, and a run on a quieter machine tells more")
    return notes


def _ceiling(judged: dict[str, Any], plans: dict[str, Any],
             needs: dict[str, Any]) -> tuple[float | None, str]:
    """The memory a leak would run into, and what it is (after "the 512 MB"): what the
    service gets when that is known, else what it would be deployed with: the smallest
    plan holding the recommended memory (the first listed of two the same size), or
    rather what of it the service gets (on a VM, what its operating system leaves), else
    the recommended memory itself. That plan is chosen from this run's peak, so the words
    say which plan and why: a later run of a leaking service, with a higher peak, counts
    against a larger one."""
    if judged["source"] != "host":
        return judged.get("limit_mb"), "it is judged against"
    recommended = needs.get("recommended_memory_mb")
    chosen = [p for p in plans.values() if p.get("memory_mb")]
    if not chosen:
        return recommended, "recommended (twice this run's peak)"
    smallest = min(chosen, key=lambda p: p["memory_mb"])
    where = (f"of plan {smallest['plan']} ({smallest['catalog']})" if not smallest["os_memory_mb"]
             else f"left to the service on plan {smallest['plan']} ({smallest['catalog']}) "
                  "once its operating system has its share")
    return smallest["service_memory_mb"], (
        f"{where}, the smallest plan holding the {recommended:,.0f} MB recommended from this "
        "run's peak (no --target-memory or --plan was given)")


def _optimise_first(memory: dict[str, Any], judged: dict[str, Any]) -> str | None:
    """Why to optimise before scaling (the seed: poor recovery patterns), if so."""
    leak = memory.get("leak") or {}
    if leak.get("verdict") == "leak":
        return ("a leak is suspected: fix it before sizing or scaling, as more memory or "
                "more instances only delay the OOM kill")
    recovered = memory.get("recovery_percent")
    if (recovered is not None and shown(recovered, 0) < RECOVERY_CRITICAL_PERCENT
            and not memory.get("growth_negligible")
            and held_matters(memory.get("held_mb"), judged.get("limit_mb"))):
        return (f"recovery after load is poor ({shown(recovered, 0):.0f} %) and what is held "
                "is large against the memory the service gets: each instance must be sized "
                "for its plateau; bound caches and release memory before scaling")
    return None


def _grew_within_steps(leak: dict[str, Any]) -> bool:
    return leak.get("verdict") == "leak" or bool(leak.get("warming"))
