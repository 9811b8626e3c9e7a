"""Scaling verdict: linear growth → horizontal, faster → vertical, poor recovery → optimise."""

from __future__ import annotations

from analysis_series import flat, samples

from memory_analysis.analysis.scaling import (
    exponential_fit,
    quadratic_fit,
    scaling_verdict,
    steps_from_series,
)
from memory_analysis.analysis.series import service_memory


def steps(*pairs):
    return [{"users": u, "peak_mb": m} for u, m in pairs]


def test_linear_growth_scales_horizontally():
    result = scaling_verdict(steps((5, 60), (10, 70), (20, 90), (40, 130)), recovery_percent=90)
    assert result["strategy"] == "horizontal" and result["growth_shape"] == "linear"
    assert result["basis"] == "steps"
    assert result["fit"]["linear"]["mb_per_user"] == 2.0
    assert result["fit"]["linear"]["r_squared"] == 1.0
    assert "R² 1.00" in result["reason"]


def test_faster_than_linear_growth_scales_vertically():
    result = scaling_verdict(steps((5, 60), (10, 70), (20, 150)), recovery_percent=90)
    assert result["strategy"] == "vertical"
    assert result["growth_shape"] == "faster than linear"
    assert result["fit"]["quadratic"]["r_squared"] > result["fit"]["linear"]["r_squared"]


def test_exponential_steps_are_faster_than_linear():
    pairs = [(u, 50 * 1.08 ** u) for u in (5, 10, 20, 30)]
    result = scaling_verdict(steps(*pairs), recovery_percent=95)
    assert result["strategy"] == "vertical"
    assert result["fit"]["exponential"]["r_squared"] > 0.99


def test_flat_memory_scales_horizontally():
    result = scaling_verdict(steps((5, 80), (10, 80.5), (20, 81)), recovery_percent=100)
    assert result["strategy"] == "horizontal" and result["growth_shape"] == "flat"


def test_poor_recovery_or_a_leak_says_optimise_first():
    linear = steps((5, 60), (10, 70), (20, 90))
    poor = scaling_verdict(linear, recovery_percent=30)
    assert poor["strategy"] == "optimize" and "recovery after load is poor (30 %)" in poor["reason"]
    leaking = scaling_verdict(linear, recovery_percent=90, leak_suspected=True)
    assert leaking["strategy"] == "optimize" and "leak" in leaking["reason"]


def test_without_steps_the_verdict_rests_on_one_load_level():
    result = scaling_verdict(None, users=20, recovery_percent=90)
    assert result["basis"] == "one load level"
    assert "one load level (20 users)" in result["reason"]
    assert "--users-steps" in result["reason"]
    two = scaling_verdict(steps((10, 60), (20, 80)), recovery_percent=90)
    assert two["strategy"] == "horizontal" and "two steps cannot show curvature" in two["reason"]


def test_steps_come_from_load_users_tags():
    data = samples(flat(50), flat(60), flat(55), users=5)
    more = samples(flat(50), flat(75), flat(55), users=10)
    for sample in more:
        if sample["phase"] == "load":
            sample["t"] += 1000
            data.append(sample)
    assert [s["users"] for s in steps_from_series(service_memory(data))] == [5, 10]


def test_fit_helpers():
    coef, r2 = quadratic_fit([1, 2, 3, 4], [1, 4, 9, 16])
    assert abs(coef[2] - 1) < 1e-9 and r2 == 1.0
    assert quadratic_fit([1, 2], [1, 2]) is None
    assert exponential_fit([1, 2], [0, 1]) is None
