"""Series selection, per-phase figures, recovery math, level boundaries and sizing."""

from __future__ import annotations

import pytest
from analysis_series import flat, linear, samples, saturating

from memory_analysis.analysis.level import assess_level
from memory_analysis.analysis.memory import memory_block, recovery
from memory_analysis.analysis.phases import phase_stats
from memory_analysis.analysis.series import service_memory
from memory_analysis.analysis.sizing import requirements


def test_metric_follows_what_was_measured():
    data = samples(flat(50), flat(60), flat(55), cgroup_limit_mb=1000)
    assert service_memory(data, tree_metric="pss").metric == "pss_tree"
    assert service_memory(data, tree_metric="rss").metric == "rss_tree"
    own = service_memory(data, service_cgroup=True)
    assert own.metric == "working_set" and own.mb[0] == pytest.approx(70, abs=2)
    for sample in data:
        sample["process"] = None
    assert service_memory(data).metric == "working_set"  # nothing else to go on
    assert service_memory([]).metric is None


def test_system_percent_prefers_the_container_limit():
    host = service_memory(samples(flat(50), flat(60), flat(55), system_percent=30))
    assert host.system_source == "host" and set(host.system_percent) == {30}
    limited = service_memory(samples(flat(50), flat(60), flat(55), system_percent=30,
                                     cgroup_limit_mb=100))
    assert limited.system_source == "cgroup_limit"
    assert max(limited.system_percent) == pytest.approx(80, abs=2)  # (60 + 20) / 100


def test_phase_stats_count_and_figures():
    phases = phase_stats(service_memory(samples(flat(50), flat(70), flat(60), noise_mb=0,
                                                baseline_s=10, load_s=20, cooldown_s=5)))
    assert [phases[p]["samples"] for p in ("baseline", "load", "cooldown")] == [20, 40, 10]
    assert phases["baseline"]["start_t"] == 0 and phases["baseline"]["end_t"] == 9.5
    assert phases["load"]["start_t"] == 10
    assert phases["load"]["memory_mb"] == {"min": 70, "mean": 70, "max": 70, "last": 70}
    assert phases["cooldown"]["system_percent"] == {"mean": 40, "max": 40}


def test_memory_block_figures():
    block = memory_block(service_memory(samples(flat(50), linear(50, 0.5), flat(60), noise_mb=0)))
    # Peak: the last load sample (t = 119.5 s into the load); no unsampled spike, as the
    # high-water mark tracks the sampled RSS.
    assert block["baseline_mb"] == 50
    assert block["peak_mb"] == pytest.approx(109.75)
    assert block["growth_mb"] == pytest.approx(59.75)
    assert block["cooldown_end_mb"] == 60
    assert block["recovery_percent"] == pytest.approx(49.75 / 59.75 * 100, abs=0.1)
    assert block["peak_system_percent"] == 40


@pytest.mark.parametrize("peak, baseline, end, expected", [
    (100, 50, 60, 80.0),
    (100, 50, 100, 0.0),
    (100, 50, 40, 100.0),   # ended below the baseline: clamped
    (100, 50, 75, 50.0),
])
def test_recovery_math(peak, baseline, end, expected):
    percent, note = recovery(peak, baseline, end, noise_mb=2.0)
    assert percent == pytest.approx(expected)
    assert "came back" in note


def test_recovery_is_100_when_growth_is_negligible_and_says_why():
    percent, note = recovery(101.0, 100.0, 101.0, noise_mb=2.0)
    assert percent == 100.0 and "noise floor" in note
    block = memory_block(service_memory(samples(flat(200), flat(201), flat(201), noise_mb=0.1)))
    assert block["recovery_percent"] == 100.0
    assert block["noise_floor_mb"] == pytest.approx(4.0)  # 2 % of a 200 MB baseline


def test_recovery_without_cooldown_is_unknown():
    assert recovery(100, 50, None, 2.0)[0] is None


def test_peak_includes_a_spike_the_samples_missed():
    data = samples(flat(50), saturating(50, 20, 5), flat(60), noise_mb=0)
    data[-1]["process"]["hwm_mb"] = 100.0  # the kernel saw 100 MB RSS between samples
    block = memory_block(service_memory(data))
    sampled = block["sampled_peak_mb"]
    assert block["peak_mb"] == pytest.approx(sampled + (100.0 - (sampled + 6.0)), abs=0.01)
    assert "high-water mark" in block["peak_note"]


def test_a_start_up_peak_before_the_run_is_not_counted():
    data = samples(flat(50), flat(60), flat(55), noise_mb=0)
    for sample in data:
        sample["process"]["hwm_mb"] = 300.0  # reached while the service started
    block = memory_block(service_memory(data))
    assert block["peak_mb"] == 60
    assert "before the run" in block["peak_note"]


@pytest.mark.parametrize("system, recovered, level", [
    (79.9, 81, "safe"),
    (80.0, 81, "warning"),
    (90.0, 81, "warning"),
    (90.1, 100, "critical"),
    (50, 80.1, "safe"),
    (50, 80.0, "warning"),
    (50, 60.0, "warning"),
    (50, 59.9, "critical"),
    (85, 59.9, "critical"),
    (None, 90, "safe"),
    (95, None, "critical"),
])
def test_level_boundaries(system, recovered, level):
    assert assess_level(system, recovered)["level"] == level


def test_level_reasons_name_the_deciding_figure_first():
    result = assess_level(85.0, 40.0, "cgroup_limit")
    assert result["level"] == "critical"
    assert result["reasons"][0] == "recovery 40 % after load is under 60 %"
    assert "container's memory limit" in result["reasons"][1]
    assert assess_level(None, None)["level"] == "unknown"


def test_level_notes_held_memory_and_leaks():
    held = assess_level(40, 10, leak={"suspected": False})
    assert held["level"] == "critical" and "not leaked" in held["reasons"][-1]
    leaking = assess_level(40, 5, leak={"suspected": True, "confidence": "high", "reason": "grew"})
    assert "leak suspected (high confidence): grew" in leaking["reasons"]


def test_requirements_by_the_seed_formulas():
    assert requirements(100) == {"min_memory_mb": 150, "recommended_memory_mb": 200}
    assert requirements(100.2) == {"min_memory_mb": 151, "recommended_memory_mb": 201}
    assert requirements(None) == {"min_memory_mb": None, "recommended_memory_mb": None}


def test_service_total_is_preferred_to_the_pss_sum_when_every_sample_has_it():
    samples = [{"t": float(i), "phase": "baseline",
                "process": {"tree_mb": 10.0 + i, "tree_service_mb": 12.0 + i},
                "system": {"percent": 5.0}} for i in range(5)]
    series = service_memory(samples, tree_metric="pss")
    assert series.metric == "service_tree"
    assert series.mb == [12.0, 13.0, 14.0, 15.0, 16.0]
    samples[2]["process"]["tree_service_mb"] = None  # an older kernel, or a gap
    assert service_memory(samples, tree_metric="pss").metric == "pss_tree"
