"""The trend of a memory series, with a confidence interval that respects how memory
samples behave: neighbours are alike (a sample half a second after another holds mostly
the same pages), so 300 samples carry far less evidence than 300 independent ones.

The slope is Sen's: the median of the slopes between pairs of points, taken only
between points of the same block (one stretch of steady load, or several at the same
load). Comparing only like with like is what lets a run with user steps or repeated
cycles be trended without the steps themselves passing for growth.

Its standard error is that of a least-squares slope through the same blocks (Sen's
slope is about as efficient on Gaussian noise), widened by the noise's integrated
autocorrelation time; bounds use Student's t for as many degrees of freedom as the
independent points allow (Santer et al. 2000). When the noise wanders so slowly that
few independent points remain, that bound grows without limit, yet a steep trend is
still plain: a slope fitted to any stationary noise of standard deviation σ has a
standard deviation of at most σ·Σ|wᵢ| (the weights of the least-squares slope), so a
bound from that worst case is valid too, and the tighter of the two is used. Sen's own
rank interval assumes independent points: on
memory samples, whose noise wanders for tens of seconds, it is either far too narrow
(ignoring the wander) or, corrected for it, wider than the whole range of slopes.

Pure functions over lists of floats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from memory_analysis.analysis.stats import linear_fit, median, thin
from memory_analysis.analysis.thresholds import PAGE_MB, t_quantile

# Points per block above which a block is thinned evenly: pairs grow with the square.
MOST_POINTS = 300


@dataclass(frozen=True)
class Block:
    """Points of one block: ``x`` (seconds, or requests) and ``y`` (MB), and where the
    block's contiguous stretches begin (indexes into x), for the autocorrelation."""

    x: list[float]
    y: list[float]
    starts: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Trend:
    """Sen's slope (y per x) and its uncertainty.

    ``n``: points used; ``n_eff``: how many independent points they are worth; ``se``:
    standard error of the slope; ``dof``: degrees of freedom for Student's t.
    """

    slope: float
    se: float
    n: int
    n_eff: float
    dof: float
    se_worst: float = math.inf  # for any stationary noise of the measured amplitude

    def bound(self, alpha: float, upper: bool) -> float:
        """The one-sided bound at error rate ``alpha``: the tighter of the two."""
        spread = margin(alpha, self.se, self.dof, self.se_worst)
        return self.slope + spread if upper else self.slope - spread


    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Two-sided interval at ``confidence``."""
        alpha = (1.0 - confidence) / 2.0
        return self.bound(alpha, upper=False), self.bound(alpha, upper=True)


def margin(alpha: float, se: float, dof: float, se_worst: float = math.inf) -> float:
    """How far a one-sided bound at error rate ``alpha`` lies from an estimate: the
    tighter of Student's t on the autocorrelation-corrected ``se``, and the normal
    quantile on ``se_worst``, the largest standard deviation any stationary noise of the
    measured amplitude could give the estimate (a weighted sum of Gaussian noise is
    Gaussian, whatever its correlation)."""
    return min(t_quantile(1.0 - alpha, dof) * se, NormalDist().inv_cdf(1.0 - alpha) * se_worst)


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


def _slopes(x: Sequence[float], y: Sequence[float]) -> list[float]:
    return [(y[j] - y[i]) / (x[j] - x[i]) for i in range(len(x)) for j in range(i + 1, len(x))
            if x[j] != x[i]]


def _thin_block(block: Block) -> Block:
    if len(block.x) <= MOST_POINTS:
        return block
    index = [int(i) for i in thin(list(range(len(block.x))), MOST_POINTS)]
    starts = sorted({next(k for k, i in enumerate(index) if i >= s) for s in block.starts
                     if s <= index[-1]})
    return Block([block.x[i] for i in index], [block.y[i] for i in index], tuple(starts))


def _stretches(block: Block) -> list[tuple[int, int]]:
    bounds = list(block.starts) + [len(block.x)]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _noise(block: Block) -> tuple[float, float, int, float]:
    """(sum of squared residuals, autocorrelation time, points, largest variance) of the
    block's noise:
    deviations of each contiguous stretch from its own least-squares line, so a block
    whose slope differs from the others' is not mistaken for noise, and no part of a
    steep trend is left in the residuals (as a robust line's small misfit would leave)."""
    squares, weighted, count, largest = 0.0, 0.0, 0, 0.0
    for a, b in _stretches(block):
        xs, ys = block.x[a:b], block.y[a:b]
        fit = linear_fit(xs, ys)
        slope, intercept = (fit[0], fit[1]) if fit else (0.0, sum(ys) / len(ys))
        residuals = [y - intercept - slope * x for x, y in zip(xs, ys, strict=True)]
        squares += sum(r * r for r in residuals)
        # However slowly the noise wanders, a stretch is worth at least one point.
        weighted += min(autocorrelation_time(residuals), float(len(xs))) * len(xs)
        count += len(xs)
        largest = max(largest, marginal_variance(residuals))
    return squares, (weighted / count if count else 1.0), count, largest


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


def sen_trend(blocks: Sequence[Block]) -> Trend | None:
    """Sen's slope over ``blocks`` (pairs only within a block) with its standard error.

    None when no block has two points with different x.
    """
    blocks = [_thin_block(b) for b in blocks if len(b.x) >= 2]
    slopes: list[float] = []
    for block in blocks:
        slopes.extend(_slopes(block.x, block.y))
    if not slopes:
        return None
    slope = median(slopes)
    assert slope is not None
    spread_x, absolute_x = 0.0, 0.0
    squares, long_run, n = 0.0, 0.0, 0
    fitted = 0
    largest = 0.0
    for block in blocks:
        for a, b in _stretches(block):
            xs = block.x[a:b]
            centre = sum(xs) / len(xs)
            spread_x += sum((x - centre) ** 2 for x in xs)
            absolute_x += sum(abs(x - centre) for x in xs)
            fitted += 2
        block_squares, correlation, count, block_largest = _noise(block)
        squares += block_squares
        # Each block's noise counts with its own memory, in proportion to its size: a
        # block that did not move adds points, not correlation.
        long_run += block_squares * correlation
        n += count
        largest = max(largest, block_largest)
    if spread_x <= 0:
        return Trend(slope=slope, se=0.0, n=n, n_eff=float(n), dof=1.0, se_worst=0.0)
    correlation = long_run / squares if squares > 0 else 1.0
    variance = squares / max(n - fitted, 1)
    se = math.sqrt(variance * correlation / spread_x)
    n_eff = n / correlation
    # Degrees of freedom as for a trend in autocorrelated data (Santer et al. 2000): the
    # independent points less the common slope and each stretch's level.
    stretches = fitted // 2
    return Trend(slope=slope, se=se, n=n, n_eff=n_eff, dof=max(n_eff - stretches - 1.0, 1.0),
                 se_worst=math.sqrt(max(largest, variance)) * absolute_x / spread_x)


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
