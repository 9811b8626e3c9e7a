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
    summed in adjacent pairs while the pair sums stay positive) and the spectral density
    at frequency zero of an autoregressive model fitted to the residuals (``_ar_time``).
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
    return max(1.0, 2.0 * total - 1.0, _ar_time([var * rho(k) for k in range(_AR_ORDERS + 1)
                                                  if k < n], n))


# Highest autoregressive order tried: ten lags cover the wiggles of residuals sampled a
# few times a second (a collector's or allocator's cycle); slower wander is order one's.
_AR_ORDERS = 10


def _ar_time(autocovariance: Sequence[float], n: int) -> float:
    """The autocorrelation time of the autoregressive model of the residuals, its order
    chosen by the Bayesian information criterion (Levinson-Durbin on their
    autocovariances): the spectral density at frequency zero over the variance,
    ``σₑ² / (γ₀ (1 − Σφ)²)``, as R's coda ``spectrum0.ar`` takes an effective sample size.

    Order one, the usual case for memory that wanders, gives ``(1 + φ) / (1 − φ)``, with
    φ corrected for its small-sample bias about a fitted line: about ``(2 + 6φ) / n``
    (measured by simulation for n of 60 to 240 and φ of 0.5 to 0.97; Marriott and Pope's
    ``(1 + 3φ) / n`` is for a series whose only fitted parameter is its mean). A higher
    order is chosen when the residuals swing back and forth (a smooth wave a few seconds
    long): lag one alone would read such a wave, sampled finely, as an endless wander
    (φ near 1), though each swing is a fresh look at the noise."""
    gamma0 = autocovariance[0]
    orders = min(_AR_ORDERS, max(1, n // 10), len(autocovariance) - 1)
    phi: list[float] = []
    error = gamma0
    best: tuple[float, list[float], float] | None = None
    for p in range(1, orders + 1):
        k = (autocovariance[p] - sum(phi[j] * autocovariance[p - 1 - j]
                                     for j in range(len(phi)))) / error
        phi = [phi[j] - k * phi[p - 2 - j] for j in range(len(phi))] + [k]
        error *= 1.0 - k * k
        if error <= 0:
            break
        criterion = n * math.log(error) + p * math.log(n)
        if best is None or criterion < best[0]:
            best = (criterion, list(phi), error)
    if best is None:
        return 1.0
    _, phi, error = best
    if len(phi) == 1:
        first = phi[0]
        first = min(first + (2.0 + 6.0 * first) / n, 0.995) if first > 0 else 0.0
        return (1.0 + first) / (1.0 - first)
    persistence = min(sum(phi), 0.995)
    return error / (gamma0 * (1.0 - persistence) ** 2)


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
