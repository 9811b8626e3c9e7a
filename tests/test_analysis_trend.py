"""The statistics under the verdicts: autocorrelation, Sen's slope within blocks, its
interval's calibration on noise like real memory samples, Student's t."""

from __future__ import annotations

import random

import pytest
from corpus import Noise

from memory_analysis.analysis.thresholds import chi2_quantile, t_quantile
from memory_analysis.analysis.trend import Block, autocorrelation_time, sen_trend


def ar_noise(phi: float, n: int, seed: int) -> list[float]:
    return Noise(1.0, phi).series(n, random.Random(seed))


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.9])
def test_autocorrelation_time_of_ar1_noise(phi):
    true = (1 + phi) / (1 - phi)
    estimates = sorted(autocorrelation_time(ar_noise(phi, 600, seed)) for seed in range(30))
    middle = estimates[len(estimates) // 2]
    assert true * 0.7 <= middle <= true * 1.6, (phi, middle, true)


def test_a_series_that_does_not_move_has_no_correlation():
    assert autocorrelation_time([5.0] * 100) == 1.0
    assert autocorrelation_time([5.0] * 50 + [5.0 + 1e-15] * 50) == 1.0


def test_sen_slope_pairs_only_within_blocks():
    # Two flat blocks at different levels: across them the "slope" would be large.
    low = Block([float(t) for t in range(50)], [10.0] * 50)
    high = Block([float(t) for t in range(100, 150)], [30.0] * 50)
    trend = sen_trend([low, high])
    assert trend is not None and trend.slope == 0.0
    rising = Block([float(t) for t in range(50)], [2.0 * t for t in range(50)])
    assert sen_trend([rising]).slope == pytest.approx(2.0)


@pytest.mark.parametrize("phi", [0.5, 0.8, 0.9])
def test_one_sided_false_alarm_rate_on_flat_autocorrelated_noise(phi):
    """No trend, 300 samples of AR(1) noise: the lower 99 % bound must be above zero in
    about 1 % of series, not in the many more that ignoring the correlation gives."""
    alarms = 0
    runs = 200
    for seed in range(runs):
        y = ar_noise(phi, 300, seed)
        trend = sen_trend([Block([t * 0.5 for t in range(300)], y)])
        alarms += trend.bound(0.01, upper=False) > 0
    assert alarms <= 8, alarms  # 2 expected; 8 or more of 200 has odds under 0.1 %


def test_student_t_and_chi_square_quantiles():
    assert t_quantile(0.975, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(0.999, 4) == pytest.approx(7.173, abs=1e-3)
    assert t_quantile(0.975, 1e9) == pytest.approx(1.960, abs=1e-3)
    assert t_quantile(0.025, 10) == pytest.approx(-2.228, abs=1e-3)
    assert chi2_quantile(0.99, 1) == pytest.approx(6.635, rel=0.01)
    assert chi2_quantile(0.99, 3) == pytest.approx(11.345, rel=0.01)
