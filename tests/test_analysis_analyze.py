"""analyze(): the report blocks of issue 4's contract, from hand-built runs."""

from __future__ import annotations

import math

from analysis_series import flat, linear, samples, saturating

from memory_analysis.analysis import analyze, load_catalogs

PHASE_KEYS = {"start_t", "end_t", "samples", "memory_mb", "system_percent"}
MEMORY_KEYS = {"metric", "baseline_mb", "peak_mb", "growth_mb", "cooldown_end_mb",
               "recovery_percent", "peak_system_percent", "leak"}
LEAK_KEYS = {"suspected", "slope_mb_per_min", "bytes_per_request", "confidence", "reason"}
LOAD = {"requests": 12_000, "error_rate": 0.0, "rps": 100.0, "duration_s": 120.0,
        "latency_ms": {"p95": 40},
        "categories": {"light": {"requests": 7200, "latency_ms": {"p95": 20}},
                       "medium": {"requests": 3600, "latency_ms": {"p95": 60}},
                       "heavy": {"requests": 1200, "latency_ms": {"p95": 450}}}}


def check_contract(result):
    assert set(result) == {"phases", "memory", "assessment", "recommendations"}
    assert set(result["phases"]) == {"baseline", "load", "cooldown"}
    for block in result["phases"].values():
        assert PHASE_KEYS <= set(block)
        assert set(block["memory_mb"]) == {"min", "mean", "max", "last"}
        assert set(block["system_percent"]) == {"mean", "max"}
    assert MEMORY_KEYS <= set(result["memory"])
    assert LEAK_KEYS <= set(result["memory"]["leak"])
    assert {"level", "reasons"} <= set(result["assessment"])
    recs = result["recommendations"]
    assert {"min_memory_mb", "recommended_memory_mb", "plans", "scaling",
            "suggestions"} <= set(recs)
    assert {"strategy", "reason"} <= set(recs["scaling"])
    for plan in recs["plans"].values():
        assert {"plan", "memory_mb", "headroom_percent"} <= set(plan)


def test_a_leaking_service():
    result = analyze(samples(flat(60), linear(60, 0.5), flat(120)), LOAD, {"users": 20})
    check_contract(result)
    memory = result["memory"]
    assert memory["metric"] == "pss_tree"
    assert memory["leak"]["suspected"] is True
    assert 4500 < memory["leak"]["bytes_per_request"] < 6000
    assert result["assessment"]["level"] == "critical"
    assert result["recommendations"]["scaling"]["strategy"] == "optimize"
    assert any("tracemalloc" in s for s in result["recommendations"]["suggestions"])
    assert any("Heavy endpoints" in s for s in result["recommendations"]["suggestions"])


def test_a_cache_that_fills_and_stays_flat():
    result = analyze(samples(flat(60), saturating(60, 30, 8), flat(90)), LOAD, {"users": 20})
    check_contract(result)
    assert result["memory"]["leak"]["suspected"] is False
    peak = result["memory"]["peak_mb"]
    assert result["recommendations"]["min_memory_mb"] == math.ceil(peak * 1.5)
    assert any("MALLOC_ARENA_MAX" in s for s in result["recommendations"]["suggestions"])


def test_a_service_that_gives_memory_back_is_safe():
    data = samples(flat(60), saturating(60, 30, 8), flat(62))
    result = analyze(data, LOAD, {"catalogs": load_catalogs()})
    assert result["memory"]["recovery_percent"] > 90
    assert result["assessment"]["level"] == "safe"
    assert result["recommendations"]["plans"]["render"]["plan"] == "starter"
    assert result["recommendations"]["scaling"]["strategy"] == "horizontal"


def test_own_cgroup_and_container_limit():
    data = samples(flat(60), flat(80), flat(62), cgroup_limit_mb=110)
    result = analyze(data, {"totals": {"requests": 100, "duration_s": 120}},
                     {"service_cgroup": True})
    assert result["memory"]["metric"] == "working_set"
    assert result["memory"]["system_percent_source"] == "cgroup_limit"
    assert result["memory"]["peak_system_percent"] > 90
    assert result["assessment"]["level"] == "critical"
    assert "container's memory limit" in result["assessment"]["reasons"][0]


def test_memory_not_observed():
    result = analyze([], LOAD)
    check_contract(result)
    assert result["assessment"]["level"] == "unknown"
    assert result["memory"]["peak_mb"] is None and result["recommendations"]["plans"] == {}
