"""Scaling verdict: shapes chosen by tests that make each parameter earn its place,
fitted against measured concurrency, honest about too few or too noisy steps."""

from __future__ import annotations

import math

from corpus import Case, Noise, held_per_user, per_user, warmup

from memory_analysis.analysis.analyze import analyze
from memory_analysis.analysis.scaling import choose_shape, scaling_verdict, step_levels


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
