"""How much evidence a memory series holds: neighbours are alike (a sample half a second
after another holds mostly the same pages), so 300 samples carry far less evidence than
300 independent ones. The noise's integrated autocorrelation time says how many samples
make one independent one (the fits in ``growth`` count their degrees of freedom with
it, after Santer et al. 2000); its marginal variance bounds what any stationary noise of
that wander could do to an estimate, however slowly it wanders.

Pure functions over lists of floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from memory_analysis.analysis.stats import linear_fit
from memory_analysis.analysis.thresholds import PAGE_MB


def autocorrelation_time(residuals: Sequence[float]) -> float:
    """Integrated autocorrelation time (≥ 1): how many samples make one independent one.

    The larger of two estimates, as each falls short in its own way on a series only a
    few times longer than its memory: Geyer's initial positive sequence (autocorrelations
    summed in adjacent pairs while the pair sums stay positive) and that of an AR(1)
    process, ``(1 + φ) / (1 − φ)``, with the lag-one correlation φ of residuals about a
    fitted line corrected for its small-sample bias: about ``(2 + 6φ) / n`` (measured by
    simulation for n of 60 to 240 and φ of 0.5 to 0.97; Marriott and Pope's ``(1 + 3φ) / n``
    is for a series whose only fitted parameter is its mean).
    """
    n = len(residuals)
    if n < 4:
        return 1.0
    mean = sum(residuals) / n
    centred = [r - mean for r in residuals]
    var = sum(c * c for c in centred) / n
    # A stretch that did not move (memory figures are whole pages) has no noise to
    # correlate; rounding error must not pass for a slowly wandering one.
    if var <= (PAGE_MB / 100.0) ** 2:
        return 1.0

    def rho(lag: int) -> float:
        return sum(centred[i] * centred[i + lag] for i in range(n - lag)) / (n * var)

    total = 0.0
    lag = 0
    while 2 * lag + 1 < n // 2:
        pair = (1.0 if lag == 0 else rho(2 * lag)) + rho(2 * lag + 1)
        if pair <= 0:
            break
        total += pair
        lag += 1
    phi = rho(1)
    phi = min(phi + (2.0 + 6.0 * phi) / n, 0.995) if phi > 0 else 0.0
    return max(1.0, 2.0 * total - 1.0, (1.0 + phi) / (1.0 - phi))


def marginal_variance(residuals: Sequence[float]) -> float:
    """The noise's own variance, which residuals about a fitted line understate when the
    noise wanders slowly: the largest of their variance and half the mean squared
    difference between points a quarter and half the stretch apart (for stationary
    noise, that difference's variance tends to twice the variance)."""
    n = len(residuals)
    best = sum(r * r for r in residuals) / n if n else 0.0
    for lag in (n // 4, n // 2):
        if lag >= 1:
            diffs = [residuals[i + lag] - residuals[i] for i in range(n - lag)]
            best = max(best, sum(d * d for d in diffs) / (2 * len(diffs)))
    return best


def level_se(values: Sequence[float]) -> float:
    """Standard error of a stretch's mean level, with the noise's autocorrelation
    counted (about its own least-squares line, so a slope is not taken for noise)."""
    n = len(values)
    if n < 2:
        return math.inf
    fit = linear_fit(list(range(n)), values)
    slope, intercept = (fit[0], fit[1]) if fit else (0.0, sum(values) / n)
    residuals = [v - intercept - slope * i for i, v in enumerate(values)]
    return math.sqrt(marginal_variance(residuals) * autocorrelation_time(residuals) / n)
