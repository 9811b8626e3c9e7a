"""analyze(): the report blocks of issue 4's contract, from hand-built runs."""

from __future__ import annotations

import math

import pytest
from analysis_series import flat, linear, samples, saturating

from memory_analysis.analysis.analyze import analyze, condition_notes
from memory_analysis.analysis.catalogs import load_catalogs, validate_catalog
from memory_analysis.analysis.limits import find_plan

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
    assert set(result) == {"phases", "memory", "assessment", "recommendations", "breakdown"}
    assert set(result["breakdown"]) == {"processes", "gc", "components"}
    assert set(result["phases"]) == {"baseline", "load", "cooldown"}
    for block in result["phases"].values():
        assert PHASE_KEYS <= set(block)
        assert set(block["memory_mb"]) == {"min", "mean", "max", "last"}
        assert set(block["system_percent"]) == {"mean", "max"}
    assert MEMORY_KEYS <= set(result["memory"])
    assert LEAK_KEYS <= set(result["memory"]["leak"])
    assert {"level", "reasons"} <= set(result["assessment"])
    recs = result["recommendations"]
    assert {"min_memory_mb", "recommended_memory_mb", "plans", "cheapest", "scaling",
            "suggestions"} <= set(recs)
    assert {"strategy", "reason"} <= set(recs["scaling"])
    for plan in recs["plans"].values():
        assert {"plan", "memory_mb", "monthly_usd", "service_memory_mb",
                "headroom_percent"} <= set(plan)
    # The cheapest plan across providers holds what it is named for (nothing is named
    # when the memory is unknown).
    assert (recs["cheapest"] == {}) == (recs["recommended_memory_mb"] is None)
    for which, needed in (("recommended", recs["recommended_memory_mb"]),
                          ("minimum", recs["min_memory_mb"])):
        if needed is None:
            continue
        cheapest = recs["cheapest"][which]
        assert cheapest["service_memory_mb"] >= needed and cheapest["monthly_usd"] is not None
        assert all(p["monthly_usd"] >= cheapest["monthly_usd"]
                   for p in recs["plans"].values()
                   if p["monthly_usd"] is not None and p["service_memory_mb"] >= needed)


LEAK_KEYS_7 = {"slope_ci_mb_per_min", "detection_limit_mb_per_min", "time_to_limit_h",
               "verdict", "follows"}


def test_a_leaking_service():
    result = analyze(samples(flat(60), linear(60, 0.5), flat(120)), LOAD,
                     {"users": 20, "runtime": "cpython"})
    check_contract(result)
    memory = result["memory"]
    assert memory["metric"] == "pss_tree"
    assert LEAK_KEYS_7 <= set(memory["leak"])
    assert memory["leak"]["suspected"] is True and memory["leak"]["follows"] == "requests"
    assert 4500 < memory["leak"]["bytes_per_request"] < 6000
    assert memory["leak"]["time_to_limit_h"] > 0
    # Judged against the host: the time is counted against a plan the words name.
    recs = result["recommendations"]
    smallest = min(recs["plans"].values(), key=lambda p: p["memory_mb"])
    assert (f"the {smallest['memory_mb']:,} MB of plan {smallest['plan']} "
            f"({smallest['catalog']}), the smallest plan holding the "
            f"{recs['recommended_memory_mb']:,} MB recommended from this run's peak"
            ) in memory["leak"]["reason"]
    # Its plans are a delay, not a size: each says how long it lasts.
    assert "only until the leak fills it" in recs["sizing_note"]
    slope = memory["leak"]["slope_mb_per_min"]
    for plan in recs["plans"].values():
        assert plan["lasts_h"] == pytest.approx(
            (plan["service_memory_mb"] - memory["peak_mb"]) / slope / 60, abs=0.01)
    assert result["assessment"]["level"] == "critical"
    assert result["recommendations"]["scaling"]["strategy"] == "optimize"
    assert any("tracemalloc" in s for s in result["recommendations"]["suggestions"])
    assert any("Heavy endpoints" in s for s in result["recommendations"]["suggestions"])


def test_a_leak_judged_against_the_host_runs_into_what_a_vms_operating_system_leaves():
    vms = validate_catalog({"id": "vms", "name": "VMs", "as_of": "2026-12-01", "kind": "vm",
                            "plans": [{"name": "one", "memory_mb": 1024}]}, "test")
    result = analyze(samples(flat(60), linear(60, 0.5), flat(120)), LOAD,
                     {"users": 20, "catalogs": [vms]})
    leak = result["memory"]["leak"]
    # 1 GiB less 200 MB and 2 % of it for the operating system: 803.5 MB.
    assert ("the 804 MB left to the service on plan one (VMs) once its operating system "
            "has its share, the smallest plan holding the") in leak["reason"]
    assert leak["headroom_mb"] == pytest.approx(803.5 - result["memory"]["peak_mb"], abs=0.1)


def test_a_cache_that_fills_and_stays_is_safe_when_small_and_a_warning_when_large():
    small = analyze(samples(flat(60), saturating(60, 30, 8), flat(90)), LOAD,
                    {"users": 20, "target_memory_mb": 1024})
    check_contract(small)
    assert small["memory"]["leak"]["suspected"] is False
    assert "sizing_note" not in small["recommendations"]
    assert all("lasts_h" not in p for p in small["recommendations"]["plans"].values())
    assert small["assessment"]["level"] == "safe"  # 30 MB held of 1 GB
    assert small["assessment"]["judged_against"]["source"] == "target_memory"
    peak = small["memory"]["peak_mb"]
    assert small["recommendations"]["min_memory_mb"] == math.ceil(peak * 1.5)
    large = analyze(samples(flat(60), saturating(60, 30, 8), flat(90)), LOAD,
                    {"users": 20, "target_memory_mb": 200, "runtime": "cpython"})
    assert large["assessment"]["level"] == "warning"  # 30 MB held of 200 MB: 15 %
    assert any("MALLOC_ARENA_MAX" in s for s in large["recommendations"]["suggestions"])
    assert large["recommendations"]["scaling"]["strategy"] == "optimize"


def test_a_service_that_gives_memory_back_is_safe():
    data = samples(flat(60), saturating(60, 30, 8), flat(62))
    result = analyze(data, LOAD, {"catalogs": load_catalogs()})
    assert result["memory"]["recovery_percent"] > 90
    assert result["assessment"]["level"] == "safe"
    assert result["recommendations"]["plans"]["render"]["plan"] == "starter"
    assert result["recommendations"]["scaling"]["strategy"] == "horizontal"


def test_judged_against_a_plan_or_the_container_limit():
    plan = find_plan(load_catalogs(), "render:starter")
    result = analyze(samples(flat(60), flat(430), flat(430)), LOAD, {"plan": plan})
    assert result["assessment"]["judged_against"]["source"] == "plan"
    assert result["assessment"]["judged_against"]["plan"] == "render:starter"
    assert result["assessment"]["peak_percent_of_limit"] == pytest.approx(84, abs=0.5)
    assert result["assessment"]["level"] == "warning"
    data = samples(flat(60), flat(80), flat(62), cgroup_limit_mb=110)
    contained = analyze(data, {"totals": {"requests": 100, "duration_s": 120}},
                        {"service_cgroup": True, "plan": plan})
    assert contained["memory"]["metric"] == "working_set"
    # The cgroup's 110 MB is tighter than the plan's 512 MB: the service meets it first.
    assert contained["assessment"]["judged_against"]["source"] == "cgroup"
    assert contained["assessment"]["judged_against"]["plan"] == "render:starter"
    assert contained["assessment"]["peak_percent_of_limit"] > 90
    assert contained["assessment"]["level"] == "critical"
    assert "limit of its memory cgroup" in contained["assessment"]["reasons"][0]


def host_at(data, percent, total_mb=24_000.0):
    """``data`` on a host of ``total_mb`` whose memory is ``percent`` used by everything."""
    used = total_mb * percent / 100
    for sample in data:
        sample["system"] = {"percent": percent, "used_mb": used, "available_mb": total_mb - used,
                            "total_mb": total_mb}
    return data


def test_against_the_host_the_level_is_the_services_and_the_hosts_state_is_beside_it():
    """A 60 MB service on a host another program fills to 85 %: its peak is 0.25 % of the
    host's memory, so it is safe; the host's state is reported, worded as the host's."""
    result = analyze(host_at(samples(flat(50), flat(60), flat(50)), 85.0), LOAD)
    assessment = result["assessment"]
    assert assessment["judged_against"]["source"] == "host"
    assert assessment["level"] == "safe", assessment
    assert assessment["peak_percent_of_limit"] == pytest.approx(60 * 100 / 24_000, abs=0.02)
    assert assessment["reasons"][0].startswith("peak memory 0.3 % of the host's 24,000 MB")
    assert not any("85" in reason for reason in assessment["reasons"])
    host = assessment["host"]
    assert host["used_percent"] == 85.0 and host["available_mb"] == 3600.0
    assert host["note"].startswith("the host's memory (everything running on it) was 85.0 % "
                                   "used at its fullest (20,400 of 24,000 MB in use, 3,600 MB "
                                   "available); other programs held at least 20,33")
    # A host with room to spare is not mentioned.
    assert "host" not in analyze(host_at(samples(flat(50), flat(60), flat(50)), 40.0),
                                 LOAD)["assessment"]


def test_a_service_that_fills_the_host_itself_is_critical():
    data = host_at(samples(flat(50), flat(22_000), flat(50)), 93.0)
    assessment = analyze(data, LOAD)["assessment"]
    assert assessment["level"] == "critical", assessment
    assert "; the service held 22,00" in assessment["host"]["note"]


def test_memory_not_observed():
    result = analyze([], LOAD)
    check_contract(result)
    assert result["assessment"]["level"] == "unknown"
    assert result["memory"]["peak_mb"] is None and result["recommendations"]["plans"] == {}


def test_fast_straight_growth_too_short_to_tell_from_a_warm_up_is_a_warning():
    """480 MB/min for 30 s, in slow swings as V8 grows its heap in chunks: too few
    independent samples to rule out a curve that levels off in time, so no leak is
    claimed; but the level says what the rate would do to the headroom."""
    report = analyze(samples(flat(100), lambda t: 100 + 8 * t + 6 * math.sin(t / 3),
                             flat(340), baseline_s=15, load_s=30, cooldown_s=15), None, {})
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "too short to tell", leak["reason"]
    assert "a curve that slows down" in leak["reason"]
    assert leak["headroom_lasts_h"] == pytest.approx(leak["headroom_mb"] / 480 / 60, rel=0.1)
    assessment = report["assessment"]
    assert assessment["level"] == "warning", assessment
    assert assessment["reasons"][0].startswith("memory grew 4"), assessment["reasons"]
    assert "by its best fit the headroom lasts about 1 min" in assessment["reasons"][0]


def test_fast_growth_past_the_memory_it_gets_asks_for_more_memory_not_for_time():
    """The same growth judged against 200 MB, which its peak (340 MB) is already past:
    there is no headroom to last, so no hours of it are claimed."""
    report = analyze(samples(flat(100), lambda t: 100 + 8 * t + 6 * math.sin(t / 3),
                             flat(340), baseline_s=15, load_s=30, cooldown_s=15), None,
                     {"target_memory_mb": 200})
    leak = report["memory"]["leak"]
    assert leak["verdict"] in ("leak", "too short to tell"), leak["reason"]
    assert "headroom_lasts_h" not in leak, leak
    assert "0 MB of headroom" not in leak["reason"]
    assert report["assessment"]["level"] == "critical", report["assessment"]


def test_a_busy_machine_and_a_full_host_are_the_runs_conditions_in_problems():
    busy = {"assessment": {"host": None}, "memory": {"leak": {"late_samples_share": 0.25}}}
    quiet = {"assessment": {}, "memory": {"leak": {"late_samples_share": 0.02}}}
    full = {"assessment": {"host": {"note": "the host's memory was 85 % used"}},
            "memory": {"leak": {}}}
    assert condition_notes(busy)[0].startswith("the machine was busy: 25% of the load's")
    assert condition_notes(quiet) == []
    assert condition_notes(full) == ["the host's memory was 85 % used"]
