"""Scaling verdict: shapes chosen by tests that make each parameter earn its place,
fitted against measured concurrency, honest about too few or too noisy steps."""

from __future__ import annotations

import math

from corpus import Case, Noise, held_per_user, per_user, warmup

from memory_analysis.analysis.analyze import analyze
from memory_analysis.analysis.catalogs import validate_catalog
from memory_analysis.analysis.scaling import (
    choose_shape,
    instances_by_cost,
    scaling_verdict,
    step_levels,
)


def steps(*levels, se=0.1, flight=None):
    """Steps at 5, 10, 20, 40 ... users with the given levels (MB)."""
    users = [5, 10, 20, 40, 80][:len(levels)]
    return step_levels([(u, flight(u) if flight else None, level, se, level)
                        for u, level in zip(users, levels, strict=False)], noise_mb=0.3)


def test_linear_growth_scales_horizontally():
    result = scaling_verdict(steps(60, 70, 90, 130))
    assert result["strategy"] == "horizontal" and result["growth_shape"] == "linear"
    assert result["basis"] == "steps" and result["load_basis"] == "users"
    assert math.isclose(result["fit"]["linear"]["mb_per_unit"], 2.0, rel_tol=1e-6)
    assert "2.00 MB per extra user" in result["reason"]


def test_exponential_growth_is_faster_than_linear_and_scales_vertically():
    # The case: 200·e^(0.02u) MB was called linear.
    result = scaling_verdict(steps(*(200 * math.exp(0.02 * u) for u in (5, 10, 20, 40))))
    assert result["growth_shape"] == "faster than linear"
    assert result["strategy"] == "vertical"


def test_three_steps_can_show_a_curve_but_say_it_is_unchecked():
    result = scaling_verdict(steps(60, 70, 150))
    assert result["growth_shape"] == "faster than linear"
    assert "three steps fit a curve exactly" in result["reason"]
    assert "R²" not in result["reason"]


def test_flat_within_noise_and_decreasing_memory():
    flat = scaling_verdict(steps(80, 80.2, 79.9, 80.1))
    assert flat["growth_shape"] == "flat" and flat["strategy"] == "horizontal"
    falling = scaling_verdict(steps(120, 110, 100, 90))
    assert falling["growth_shape"] == "decreasing"
    assert "not close to linear" not in falling["reason"] and "falls" in falling["reason"]


def test_noisy_steps_are_not_read_as_a_shape():
    # Differences well within each step's uncertainty: flat, not linear or curved.
    result = scaling_verdict(steps(80, 82, 79, 81, se=2.0))
    assert result["growth_shape"] == "flat"


def test_steps_that_fit_no_shape_are_said_to():
    shape, _, notes = choose_shape([5, 10, 20, 40, 80], [60, 90, 60, 90, 60], [0.1] * 5)
    assert any("disagree with every shape" in n for n in notes)


def test_two_steps_cannot_show_curvature_and_one_is_not_measured():
    two = scaling_verdict(steps(60, 80))
    assert two["growth_shape"] == "linear" and "two steps cannot show curvature" in two["reason"]
    one = scaling_verdict(None, users=20)
    assert one["basis"] == "one load level" and one["growth_shape"] == "not measured"
    assert "one load level (20 users)" in one["reason"] and "--users-steps" in one["reason"]


def test_memory_is_fitted_against_concurrency_when_measured():
    # With think time only a quarter of the users have a request in flight.
    result = scaling_verdict(steps(60, 70, 90, 130, flight=lambda u: u / 4))
    assert result["load_basis"] == "concurrency"
    assert math.isclose(result["fit"]["linear"]["mb_per_unit"], 8.0, rel_tol=1e-6)
    assert "per extra request in flight" in result["reason"]


def test_growth_within_steps_is_not_put_down_to_the_load():
    result = scaling_verdict(steps(60, 70, 90, 130), grew_within_steps=True)
    assert result["growth_shape"] == "not measured" and "within the steps" in result["reason"]


def test_optimise_first_says_why():
    result = scaling_verdict(steps(60, 70, 90, 130), optimise_reason="a leak is suspected")
    assert result["strategy"] == "optimize" and result["reason"].startswith("a leak")


def analyzed(case: Case) -> dict:
    return analyze(case.samples(), {"requests": 0},
                   {"segments": case.load_segments(), "users": case.users,
                    "target_memory_mb": 4096.0})


def test_held_memory_per_user_is_linear_not_a_leak():
    result = analyzed(Case("held", held_per_user(300, 2.0), "healthy", steps=[5, 10, 20, 40],
                           noise=Noise(0.05, 0.8)))
    scaling = result["recommendations"]["scaling"]
    assert result["memory"]["leak"]["verdict"] != "leak"
    assert scaling["growth_shape"] == "linear"
    assert math.isclose(scaling["fit"]["linear"]["mb_per_unit"], 2.0, rel_tol=0.05)
    assert [s["users"] for s in scaling["steps"]] == [5, 10, 20, 40]
    # Priced from the bundled catalogs on 1, 2, 4 and 8 instances.
    rows = scaling["instances"]
    assert [r["instances"] for r in rows] == [1, 2, 4, 8]
    assert rows[0]["per_instance_mb"] == result["recommendations"]["recommended_memory_mb"]
    for row in rows:
        assert row["plan"]["service_memory_mb"] >= row["per_instance_mb"]
        assert row["monthly_cost"] == round(row["instances"] * row["plan"]["monthly_usd"], 2)
    assert scaling["cheapest_instances"] in (1, 2, 4, 8) and scaling["cost_note"]


def test_superlinear_memory_in_flight_scales_vertically():
    result = analyzed(Case("curve", per_user(300, 0.05, exponent=2.0), "healthy",
                           steps=[5, 10, 20, 40], noise=Noise(0.05, 0.8)))
    assert result["recommendations"]["scaling"]["strategy"] == "vertical"


def test_a_warm_up_at_the_first_step_does_not_pass_for_growth_with_users():
    """The cache fills during the first step (time constant 3 s of a 30 s step): each
    step's level is taken after its own transient, so the steps come out flat."""
    result = analyzed(Case("warm", warmup(300, 40, 3.0), "healthy", steps=[5, 10, 20, 40],
                           noise=Noise(0.05, 0.8)))
    assert result["recommendations"]["scaling"]["growth_shape"] == "flat"


# -- scaling by what it costs (issue 17) ----------------------------------------------------
def catalog(*plans, kind="container"):
    """A catalog of (name, memory MB, monthly price) plans."""
    return validate_catalog({"id": "cloud", "name": "Cloud", "as_of": "2026-12-01", "kind": kind,
                             "plans": [{"name": n, "memory_mb": m, "monthly_usd": p}
                                       for n, m, p in plans]}, "test")


# Bigger plans cost less per MB, as most providers' do.
SIZES = catalog(("s", 1024, 10.0), ("m", 2048, 25.0), ("l", 4096, 45.0), ("xl", 8192, 80.0))
LOADS = (5, 10, 20, 40)


def test_linear_growth_is_cheapest_on_one_instance_and_says_why_it_parts_from_horizontal():
    # 300 MB at no load + 2 MB per user; the run peaked 10 MB above its top step.
    result = instances_by_cost(scaling_verdict(steps(*(300 + 2 * u for u in LOADS))),
                               peak_mb=390, baseline_mb=300, catalogs=[SIZES])
    assert result["strategy"] == "horizontal" and result["peak_load"] == 40
    rows = result["instances"]
    assert [r["instances"] for r in rows] == [1, 2, 4, 8]
    assert [r["load_per_instance"] for r in rows] == [40, 20, 10, 5]
    assert [r["level_mb"] for r in rows] == [380, 340, 320, 310]
    # Each holds the peak less what its share of the load took off, doubled (the seed's
    # recommended margin): one instance needs just the recommended 780 MB.
    assert [r["per_instance_mb"] for r in rows] == [780, 700, 660, 640]
    assert [r["total_mb"] for r in rows] == [780, 1400, 2640, 5120]
    assert [r["plan"]["plan"] for r in rows] == ["s"] * 4
    assert [r["monthly_cost"] for r in rows] == [10, 20, 40, 80]
    assert not any(r["extrapolated"] for r in rows)
    assert result["cheapest_instances"] == 1
    note = result["cost_note"]
    assert note.startswith("cheapest for the measured peak load (memory alone): one instance "
                           "of s (cloud) at $10.00 a month")
    assert "parts from the horizontal strategy" in note
    assert "2 instances of s (cloud) at $20.00 a month cost more" in note
    assert "two need 1,400 MB between them against 780 MB for one" in note


def test_faster_than_linear_growth_is_cheapest_split_and_says_why_it_parts_from_vertical():
    # 100 MB + 0.5 MB x users²: half the load holds a quarter of the growth.
    result = instances_by_cost(scaling_verdict(steps(*(100 + 0.5 * u * u for u in LOADS))),
                               peak_mb=910, baseline_mb=100, catalogs=[SIZES])
    assert result["growth_shape"] == "faster than linear" and result["strategy"] == "vertical"
    rows = result["instances"]
    assert [r["per_instance_mb"] for r in rows] == [1820, 620, 320, 245]
    assert [r["plan"]["plan"] for r in rows] == ["m", "s", "s", "s"]
    assert [r["monthly_cost"] for r in rows] == [25, 20, 40, 80]
    assert result["cheapest_instances"] == 2
    note = result["cost_note"]
    assert "2 instances of s (cloud) at $20.00 a month" in note
    assert "parts from the seed's rule (vertical, for faster-than-linear growth)" in note
    assert "one instance of m (cloud) costs $25.00" in note
    assert "1,240 MB in all against 1,820 MB for one" in note


def test_a_tie_goes_to_fewer_instances_and_agreement_says_nothing_more():
    # The same curve with prices in step with memory: one instance and two cost the same.
    even = catalog(("s", 1024, 10.0), ("m", 2048, 20.0))
    result = instances_by_cost(scaling_verdict(steps(*(100 + 0.5 * u * u for u in LOADS))),
                               peak_mb=910, baseline_mb=100, catalogs=[even])
    assert [r["monthly_cost"] for r in result["instances"]] == [20, 20, 40, 80]
    assert result["cheapest_instances"] == 1  # vertical, as the seed says: no more to say
    assert "parts from" not in result["cost_note"]


def test_a_vm_plan_counts_its_operating_system_and_an_unpriced_catalog_prices_nothing():
    vms = catalog(("s", 1024, 10.0), ("m", 2048, 25.0), kind="vm")
    result = instances_by_cost(scaling_verdict(steps(*(300 + 2 * u for u in LOADS))),
                               peak_mb=390, baseline_mb=300, catalogs=[vms])
    # 780 MB fit the 803.5 MB a 1 GiB VM leaves; so do the smaller ones.
    assert [r["plan"]["plan"] for r in result["instances"]] == ["s"] * 4
    bigger = instances_by_cost(scaling_verdict(steps(*(300 + 2 * u for u in LOADS))),
                               peak_mb=420, baseline_mb=300, catalogs=[vms])
    assert bigger["instances"][0]["per_instance_mb"] == 840
    assert bigger["instances"][0]["plan"]["plan"] == "m"  # 840 MB: more than 803.5
    unpriced = validate_catalog({"id": "x", "name": "X", "as_of": "2026-12-01",
                                 "plans": [{"name": "a", "memory_mb": 4096}]}, "test")
    none = instances_by_cost(scaling_verdict(steps(*(300 + 2 * u for u in LOADS))),
                             peak_mb=390, baseline_mb=300, catalogs=[unpriced])
    assert all(r["plan"] is None and r["monthly_cost"] is None for r in none["instances"])
    assert none["cheapest_instances"] is None
    assert "what each way costs is unknown" in none["cost_note"]


def test_an_instances_share_never_holds_less_than_the_idle_baseline_nor_more_than_all():
    # A line through the steps that reaches below the idle baseline at low load: each
    # instance keeps at least its baseline (350 MB), and the share below the lowest step
    # is extrapolated.
    result = instances_by_cost(scaling_verdict(steps(*(200 + 10 * u for u in LOADS))),
                               peak_mb=600, baseline_mb=350, catalogs=[SIZES])
    rows = result["instances"]
    assert [r["level_mb"] for r in rows] == [600, 400, 350, 350]
    assert [r["extrapolated"] for r in rows] == [False, False, False, False]
    # Three steps (5, 10, 20 users): an eighth of the top load, 2.5 users, is below the
    # lowest step, so its level comes from the line beyond the steps (225 MB).
    split = instances_by_cost(scaling_verdict(steps(250, 300, 400)), peak_mb=410,
                              baseline_mb=150, catalogs=[SIZES])
    assert [r["extrapolated"] for r in split["instances"]] == [False, False, False, True]
    assert split["instances"][3]["level_mb"] == 225
    assert split["instances"][3]["per_instance_mb"] == 470  # 2 x (410 - (400 - 225))
    # Memory that falls with load frees nothing when the load is split.
    falling = instances_by_cost(scaling_verdict(steps(120, 110, 100, 90)), peak_mb=95,
                                baseline_mb=80, catalogs=[SIZES])
    assert {r["per_instance_mb"] for r in falling["instances"]} == {190}


def test_no_cost_view_without_a_measured_curve():
    catalogs = [SIZES]
    for unmeasured in (scaling_verdict(None, users=20),
                       scaling_verdict(steps(60, 70, 90, 130), grew_within_steps=True)):
        assert instances_by_cost(unmeasured, 130, 60, catalogs) == unmeasured
    measured = scaling_verdict(steps(60, 70, 90, 130))
    assert instances_by_cost(measured, None, 60, catalogs) == measured
    # Against concurrency, the load each serves is requests in flight.
    flight = instances_by_cost(scaling_verdict(steps(60, 70, 90, 130, flight=lambda u: u / 4)),
                               130, 55, catalogs)
    assert flight["peak_load"] == 10 and flight["instances"][1]["load_per_instance"] == 5
