"""The statistics under the verdicts: autocorrelation, Sen's slope within blocks, its
interval's calibration on noise like real memory samples, Student's t."""

from __future__ import annotations

import math
import random

import pytest
from corpus import Noise

from memory_analysis.analysis.stats import chi2_quantile, t_quantile
from memory_analysis.analysis.trend import autocorrelation_time


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


def test_student_t_and_chi_square_quantiles():
    assert t_quantile(0.975, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(0.999, 4) == pytest.approx(7.173, abs=1e-3)
    assert t_quantile(0.975, 1e9) == pytest.approx(1.960, abs=1e-3)
    assert t_quantile(0.025, 10) == pytest.approx(-2.228, abs=1e-3)
    assert chi2_quantile(0.99, 1) == pytest.approx(6.635, rel=0.01)
    assert chi2_quantile(0.99, 3) == pytest.approx(11.345, rel=0.01)


def test_a_residual_that_swings_back_and_forth_is_many_looks_not_one():
    """A smooth wave with a 16-sample period (a collector's cycle sampled finely): its
    neighbours are nearly equal (lag-one correlation 0.92), which read as an AR(1) wander
    would make the whole series one independent sample; each swing is a fresh look."""
    rng = random.Random(1)
    wave = [0.5 * math.sin(2 * math.pi * i / 16) + rng.gauss(0.0, 0.02) for i in range(120)]
    assert autocorrelation_time(wave) < 20
    # A random walk is the endless wander, and stays one.
    walk = [0.0]
    for _ in range(119):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0))
    assert autocorrelation_time(walk) > 60
