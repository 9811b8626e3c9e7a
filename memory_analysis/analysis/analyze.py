"""The whole verdict in one call: samples and load figures in, report blocks out.

    from memory_analysis.analysis import analyze
    blocks = analyze(samples, load_test, {"service_cgroup": False, "tree_metric": "pss"})
    report.update(blocks)  # phases, memory, assessment, recommendations

Pure apart from reading the bundled plan catalogs when the caller passes none.
"""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.catalogs import load_catalogs
from memory_analysis.analysis.leak import leak_verdict
from memory_analysis.analysis.level import assess_level
from memory_analysis.analysis.memory import memory_block
from memory_analysis.analysis.phases import phase_stats
from memory_analysis.analysis.plans import recommend_plans
from memory_analysis.analysis.scaling import scaling_verdict, steps_from_series
from memory_analysis.analysis.series import service_memory
from memory_analysis.analysis.sizing import requirements
from memory_analysis.analysis.suggestions import suggestions


def load_figures(load_test: dict[str, Any] | None) -> dict[str, Any]:
    """The load figures the analysis uses, from either the runner's ``load_test`` block
    (``requests``, ``duration_s``, ...) or a whole load tester report (``totals``)."""
    if not load_test:
        return {}
    if "totals" in load_test:
        totals = load_test["totals"]
        return {**totals, "latency_ms": load_test.get("latency_ms", {}),
                "categories": load_test.get("categories", {}),
                "errors": load_test.get("errors", {}),
                "timeline": load_test.get("timeline")}
    return load_test


def analyze(samples: list[dict[str, Any]], load_test: dict[str, Any] | None = None,
            options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's ``phases``, ``memory``, ``assessment`` and ``recommendations`` blocks.

    ``samples``: the monitor's samples, each tagged with ``phase`` ("baseline" | "load" |
    "cooldown") and, with user steps, ``load_users``.
    ``load_test``: the load figures (see ``load_figures``); ``requests`` and
    ``duration_s`` give bytes kept per request (more exactly with the load tester's
    per-second ``timeline``), ``categories`` and ``errors`` the latency notes.
    ``options`` (all optional):
      ``service_cgroup`` (bool): the service has a memory cgroup of its own, so its
        working set is the service memory (default False);
      ``tree_metric`` ("pss" | "rss"): how the monitor summed the process tree (default "pss");
      ``users`` (int): users of a run without steps, for the scaling reason;
      ``load_start_t`` (float): when the load started, in the samples' ``t`` seconds
        (default: the first load sample's), to line the timeline up with the samples;
      ``steps`` (list of {"users", "peak_mb"}): overrides the steps read from ``load_users``;
      ``catalogs`` (list): validated catalogs (``catalogs.load_catalogs``); default bundled.
    """
    options = options or {}
    load = load_figures(load_test)
    series = service_memory(samples, bool(options.get("service_cgroup", False)),
                            options.get("tree_metric", "pss"))
    phases = phase_stats(series)
    memory = memory_block(series)

    load_span = None
    if phases["load"]["samples"]:
        load_span = phases["load"]["end_t"] - phases["load"]["start_t"]
    if series.mb:
        load_start_t = options.get("load_start_t", phases["load"]["start_t"])
        memory["leak"] = leak_verdict(series, load.get("requests"),
                                      load.get("duration_s") or load_span,
                                      memory["noise_floor_mb"], load.get("timeline"),
                                      load_start_t)
    else:
        memory["leak"] = {"suspected": False, "slope_mb_per_min": None, "bytes_per_request": None,
                          "confidence": "none", "reason": "service memory was not observed"}

    assessment = assess_level(memory["peak_system_percent"], memory["recovery_percent"],
                              series.system_source, memory["leak"] if series.mb else None)
    needs = requirements(memory["peak_mb"])
    catalogs = options.get("catalogs")
    if catalogs is None:
        catalogs = load_catalogs()
    steps = options.get("steps")
    if steps is None:
        steps = steps_from_series(series)
    scaling = scaling_verdict(steps, options.get("users"), memory["recovery_percent"],
                              bool(memory["leak"].get("suspected")),
                              memory.get("noise_floor_mb") or 2.0)
    recommendations: dict[str, Any] = {
        **needs,
        "plans": recommend_plans(catalogs, needs["min_memory_mb"],
                                 needs["recommended_memory_mb"], memory["peak_mb"]),
        "scaling": scaling,
    }
    recommendations["suggestions"] = suggestions(memory, assessment, load, scaling)
    return {"phases": phases, "memory": memory, "assessment": assessment,
            "recommendations": recommendations}
