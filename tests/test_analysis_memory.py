"""Series selection, per-phase figures, recovery math, level boundaries and sizing."""

from __future__ import annotations

import pytest
from analysis_series import flat, linear, samples, saturating

from memory_analysis.analysis.level import assess_level, held_matters
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


PLAN = {"source": "plan", "limit_mb": 1000.0, "plan": "x:y"}
NO_LEAK = {"verdict": "no leak"}


@pytest.mark.parametrize("peak, recovered, held, level", [
    (79.9, 81, 0, "safe"),
    (79.96, 81, 0, "warning"),   # shown as 80.0 %: the text and the level agree
    (80.0, 81, 0, "warning"),
    (90.0, 81, 0, "warning"),
    (90.1, 100, 0, "critical"),
    (50, 80.4, 0, "safe"),       # shown as 80 %, not over 80 %, but nothing is held
    (50, 80.6, 0, "safe"),
    (50, 70, 150, "warning"),    # 60-80 % band, held 15 % of the limit
    (50, 70, 50, "safe"),        # held 5 % of the limit: small against it
    (50, 10, 150, "warning"),    # held a lot, but stopped growing: warning at most
    (50, 10, 99.0, "safe"),      # 9.9 % of the limit
    (95, None, 0, "critical"),
    (None, 90, 0, "safe"),
])
def test_level_boundaries(peak, recovered, held, level):
    assert assess_level(peak, recovered, PLAN, NO_LEAK, held)["level"] == level


def test_text_states_the_rounded_figure_it_compared():
    result = assess_level(50, 80.4, PLAN, NO_LEAK, 10)
    # 80.4 shows as 80 %, which is not over 80 %: so it is not said to be.
    assert not any("80 % after load is over 80" in r for r in result["reasons"])
    assert assess_level(79.96, 90, PLAN, NO_LEAK, 0)["reasons"][0].startswith(
        "peak memory 80.0 % of the 1,000 MB of plan x:y is in the 80-90 % band")


def test_a_leak_is_critical_and_named_first():
    leak = {"verdict": "leak", "slope_mb_per_min": 3.0}
    result = assess_level(40, 95, PLAN, leak, 0)
    assert result["level"] == "critical"
    assert result["reasons"][0] == "memory kept growing (a leak, 3.00 MB/min)"


def test_level_says_what_it_was_judged_against():
    host = {"source": "host", "limit_mb": 24000.0}
    result = assess_level(2.0, 0.0, host, NO_LEAK, 30)
    assert result["level"] == "safe"
    assert result["judged_against"] == host and result["peak_percent_of_limit"] == 2.0
    assert any("--target-memory" in r for r in result["reasons"])
    assert assess_level(None, None, host)["level"] == "unknown"


def test_held_matters_from_a_tenth_of_the_limit():
    assert held_matters(100, 1000) and not held_matters(99.4, 1000)
    assert held_matters(99.96, 1000)  # shown as 10.0 %: judged as shown
    assert held_matters(5, None) and not held_matters(None, 1000)


def test_recovery_uses_the_sampled_peak_not_the_spike_between_samples():
    data = samples(flat(50), flat(60), flat(60), noise_mb=0)
    data[-1]["process"]["hwm_mb"] = 166.0  # the kernel saw 100 MB more than sampled
    block = memory_block(service_memory(data))
    assert block["peak_mb"] == pytest.approx(160, abs=0.01)   # sizing sees the spike
    assert block["recovery_percent"] == 0.0                    # nothing sampled came back
    assert "sampled peak" in block["recovery_note"]


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


def test_recovery_reads_the_last_cooldown_that_ran_its_course():
    """Stopped during cycle 2's load: the few samples after the stop are not the cooldown
    that recovery is about; cycle 1's is."""
    data = samples(flat(50), flat(80), flat(60), noise_mb=0)
    for sample in data[-3:]:
        sample["cycle"] = 2
        sample["process"]["tree_mb"] = 80.0
    block = memory_block(service_memory(data))
    assert block["cooldown_end_mb"] == 60.0
