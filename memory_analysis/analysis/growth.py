"""Shapes of memory growth under steady load, fitted over whole stretches and compared.

A leak and a cache that fills look alike over a few minutes; what tells them apart is
where the curve is going. So instead of cutting a warm-up off and trending what is left,
every stretch of steady load is fitted whole with competing shapes:

- ``flat``: a level;
- ``linear``: a level and a steady rate (a leak, or growth too slow to matter);
- ``levels off``: a rise that slows with a time constant and stops,
  ``r·(1 − e^(−x/τ))`` (a cache or pool that fills, a heap warming up);
- ``linear after warm-up``: the two together (a leak behind a warm-up);
- ``slowing``: growth that keeps slowing without a ceiling, ``c·x^p`` (0 < p < 1) or
  ``c·ln(x + s)``: a cache filling on a long-tailed key distribution (distinct keys
  grow like a power of the requests below one, or their logarithm);
- ``step``: memory loaded once, then flat (or, ``step and a line``, growing steadily on
  both sides of it: a table loaded once in a service that leaks).

``x`` is what drives the growth: requests served since the load began, in seconds at
the run's mean request rate (a request rate that sags on a busy machine then does not
look like a warm-up levelling off), or the clock. Several stretches (user steps,
cycles) are fitted together: one shape, one level each (memory in flight differs
between steps), by one least-squares fit, so each stretch weighs as the information it
holds.

Shapes are compared by the Bayesian information criterion counted in independent points
(neighbouring memory samples are alike: ``trend.autocorrelation_time``). The best shape
is the one a verdict speaks of; every shape the data cannot rule out (its criterion
within ``PLAUSIBLE_BIC`` of the best, among shapes no more complex than the best: a shape
more flexible than the best has not earned its extra parameter) bounds what the future
may hold. Each shape projects the growth still to come at the run's load to a horizon,
with an interval: over the nonlinear parameter's values the data allow (a profile
likelihood) and the linear coefficients' own error.

Pure functions over lists of floats.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memory_analysis.analysis.stats import chi2_quantile, least_squares, t_quantile
from memory_analysis.analysis.thresholds import (
    BENDS_WITHIN,
    FINISHED_WARMUP_SPANS,
    LONGEST_SPANS,
    MIN_TREND_POINTS,
    NO_LEAK_ALPHA,
    OVER_WITHIN,
    PLAUSIBLE_BIC,
    SIMPLER_WITHIN_BIC,
)
from memory_analysis.analysis.trend import autocorrelation_time, marginal_variance

# Values tried for each shape's nonlinear parameter.
GRID_STEPS = 24
POWERS = tuple(0.05 * k for k in range(1, 19))  # 0.05 .. 0.90: a power of 1 is linear
# Golden-section steps that refine the best value of a continuous parameter between its
# grid neighbours.
REFINE_STEPS = 10


@dataclass(frozen=True)
class Points:
    """What one fit sees: ``x`` (the driver), ``y`` (MB), ``group`` (the stretch each
    point belongs to: each stretch has its own level), ``t`` (the samples' clock)."""

    x: list[float]
    y: list[float]
    group: list[int]
    t: list[float]

    @property
    def groups(self) -> list[int]:
        return sorted(set(self.group))


@dataclass(frozen=True)
class Candidate:
    """One shape at one value of its nonlinear parameter, fitted: its coefficients, each
    stretch's level, the residual sum of squares, (X̃ᵀX̃)⁻¹ and X̃ (the shape's columns
    less each stretch's mean: the levels are taken out first, Frisch–Waugh), and the
    columns as they are."""

    theta: float | None
    coef: list[float]
    levels: dict[int, float]
    rss: float
    inverse: list[list[float]]
    centred: list[list[float]]
    columns: list[list[float]]

    def value(self, points: Points, row: int) -> float:
        return self.levels[points.group[row]] + sum(
            c * col[row] for c, col in zip(self.coef, self.columns, strict=True))


@dataclass(frozen=True)
class Family:
    """A shape: its columns at θ, the growth its coefficients add from ``x0`` to ``x1``
    (as weights on the coefficients), its rate at ``x`` (the same), and the θ grid."""

    name: str
    params: int  # fitted parameters besides the levels, counting a searched θ
    # θ is None for the shapes without one (flat, linear).
    columns: Callable[[Any, list[float]], list[list[float]]]
    growth: Callable[[Any, float, float], list[float]]
    rate: Callable[[Any, float], list[float]]
    grid: Callable[[Points], list[float | None]]


# Shapes that are a leak behind something that slows: reported as linear.
LEAKS_BEHIND = ("linear after warm-up", "linear after slowing")
# Shapes that bend and stop (or nearly): at their longest parameter they are a straight
# line, so for calling a leak only the bends a run can see count (``BENDS_WITHIN``).
BENDING = ("levels off", "slowing (logarithmic)")


def _taus(points: Points, spans: float = LONGEST_SPANS) -> list[float | None]:
    """Time constants (or offsets) from the samples' spacing to ``spans`` stretches."""
    xs = sorted(points.x)
    span = xs[-1] - xs[0]
    gaps = sorted(b - a for a, b in zip(xs, xs[1:], strict=False) if b > a)
    shortest = max(gaps[len(gaps) // 2] if gaps else span / 100.0, span / 500.0)
    longest = spans * span
    if span <= 0 or longest <= shortest:
        return []
    ratio = (longest / shortest) ** (1.0 / (GRID_STEPS - 1))
    return [shortest * ratio ** k for k in range(GRID_STEPS)]


def _finished_taus(points: Points) -> list[float | None]:
    return _taus(points, FINISHED_WARMUP_SPANS)


def _steps_at(points: Points) -> list[float | None]:
    """Where a step may be: between samples, with enough of the stretch either side to
    show each level."""
    xs = sorted(set(points.x))
    inside = xs[MIN_TREND_POINTS // 2: len(xs) - MIN_TREND_POINTS // 2]
    every = max(1, len(inside) // (2 * GRID_STEPS))
    return [(a + b) / 2.0 for a, b in zip(inside[::every], inside[1::every], strict=False)]


def _exp(tau: float, x: float) -> float:
    return 1.0 - math.exp(-x / tau)


def _log_offset(s: float, x: float) -> float:
    return math.log(x + s)


def with_a_line(family: Family) -> Family:
    """``family`` with a steady rate beside it: the leak that could hide behind it."""
    return Family(f"{family.name} and a line", family.params + 1,
                  lambda th, x: [*family.columns(th, x), list(x)],
                  lambda th, a, b: [*family.growth(th, a, b), b - a],
                  lambda th, x: [*family.rate(th, x), 1.0], family.grid)


# The step's place is searched over the whole stretch: it costs more than one parameter's
# worth of fit (a change point found by search), counted as two.
_STEP = Family("step", 3, lambda x0, x: [[1.0 if v >= x0 else 0.0 for v in x]],
               lambda x0, a, b: [1.0 if a < x0 <= b else 0.0], lambda _, x: [0.0], _steps_at)

FAMILIES: tuple[Family, ...] = (
    Family("flat", 0, lambda _, x: [], lambda _, a, b: [], lambda _, x: [], lambda p: [None]),
    Family("linear", 1, lambda _, x: [list(x)], lambda _, a, b: [b - a], lambda _, x: [1.0],
           lambda p: [None]),
    Family("levels off", 2, lambda tau, x: [[_exp(tau, v) for v in x]],
           lambda tau, a, b: [_exp(tau, b) - _exp(tau, a)],
           lambda tau, x: [math.exp(-x / tau) / tau], _taus),
    Family("linear after warm-up", 3, lambda tau, x: [[_exp(tau, v) for v in x], list(x)],
           lambda tau, a, b: [_exp(tau, b) - _exp(tau, a), b - a],
           lambda tau, x: [math.exp(-x / tau) / tau, 1.0], _finished_taus),
    Family("slowing", 2, lambda p, x: [[max(v, 0.0) ** p for v in x]],
           lambda p, a, b: [max(b, 0.0) ** p - max(a, 0.0) ** p],
           lambda p, x: [p * max(x, 1e-9) ** (p - 1.0)], lambda pts: list(POWERS)),
    Family("slowing (logarithmic)", 2, lambda s, x: [[_log_offset(s, max(v, 0.0)) for v in x]],
           lambda s, a, b: [_log_offset(s, max(b, 0.0)) - _log_offset(s, max(a, 0.0))],
           lambda s, x: [1.0 / (max(x, 0.0) + s)], _taus),
    Family("linear after slowing", 3,
           lambda s, x: [[_log_offset(s, max(v, 0.0)) for v in x], list(x)],
           lambda s, a, b: [_log_offset(s, max(b, 0.0)) - _log_offset(s, max(a, 0.0)), b - a],
           lambda s, x: [1.0 / (max(x, 0.0) + s), 1.0], _taus),
    _STEP,
    # A step with growth on both sides (a table loaded once in a service that leaks):
    # found here, judged with its rise taken off.
    with_a_line(_STEP),
)
STEPS = (_STEP.name, with_a_line(_STEP).name)


@dataclass(frozen=True)
class Noise:
    """The noise every shape is judged against: its variance about the best-fitting
    shape, how many samples make one independent one, the variance of its slow wander
    (``trend.marginal_variance``), and its excursions: runs of residuals on one side of
    the fit, each one look at how far the wander goes."""

    variance: float
    correlation: float
    marginal: float
    n: int
    excursions: int = 1

    @property
    def n_eff(self) -> float:
        return self.n / self.correlation

    @property
    def looks(self) -> float:
        """Independent looks at the noise: its independent points, or, for a wander too
        slow to have many, its excursions (the wander's amplitude, which bounds what it
        can do to an estimate, is seen once in each)."""
        return max(self.n_eff, float(self.excursions))


@dataclass(frozen=True)
class ShapeFit:
    """A shape fitted to the points: its best candidate, the candidates the data allow
    (profile likelihood at the bound's error rate is applied when projecting), and its
    information criterion."""

    family: Family
    best: Candidate
    candidates: list[Candidate]
    bic: float

    @property
    def name(self) -> str:
        """The shape as the report names it: a leak behind a warm-up is linear (the
        warm-up is reported beside it), both kinds of slowing growth are slowing."""
        if self.family.name.startswith("slowing"):
            return "slowing"
        if self.family.name in STEPS:
            return "step"
        return "linear" if self.family.name in LEAKS_BEHIND else self.family.name

    def growth(self, x0: float, x1: float, candidate: Candidate | None = None) -> float:
        """What the shape adds between ``x0`` and ``x1``."""
        c = candidate or self.best
        weights = self.family.growth(c.theta, x0, x1)
        return sum(w * k for w, k in zip(weights, c.coef, strict=True))

    def rate(self, x: float, candidate: Candidate | None = None) -> float:
        """The shape's growth per unit of x at ``x``."""
        c = candidate or self.best
        weights = self.family.rate(c.theta, x)
        return sum(w * k for w, k in zip(weights, c.coef, strict=True))


@dataclass(frozen=True)
class Projection:
    """Growth still to come (MB) from ``x0`` to ``x1``: the best shape's estimate and the
    bounds over every plausible shape (lower at one error rate, upper at another)."""

    estimate: float
    low: float
    high: float


def fit_at(points: Points, family: Family, theta: float | None) -> Candidate | None:
    """``family`` fitted to ``points`` at ``theta``; None when it cannot be (a singular
    fit, or a leak-behind or step shape whose first coefficient falls)."""
    columns = family.columns(theta, points.x)
    sums: dict[int, list[float]] = {}
    for i, g in enumerate(points.group):
        row = sums.setdefault(g, [0.0] * (len(columns) + 2))
        row[0] += 1
        row[1] += points.y[i]
        for j, col in enumerate(columns):
            row[j + 2] += col[i]
    means = {g: [v / row[0] for v in row[1:]] for g, row in sums.items()}
    y = [v - means[g][0] for v, g in zip(points.y, points.group, strict=True)]
    centred = [[v - means[g][j + 1] for v, g in zip(col, points.group, strict=True)]
               for j, col in enumerate(columns)]
    if centred:
        fit = least_squares(centred, y)
        if fit is None:
            return None
        coef, rss, inverse = fit
        if family.name in LEAKS_BEHIND and coef[0] < 0:
            # A warm-up or a slowing cache rises: a falling one beside a rising line is
            # an accelerating curve, not a leak behind it.
            return None
        if family.name in STEPS and coef[0] < 0:
            # A step is memory loaded once; a fall is memory released (a sawtooth's
            # tooth, a collector's burst), which a step and a line would fit as a step
            # and judge the tooth after it as the growth.
            return None
    else:
        coef, rss, inverse = [], sum(v * v for v in y), []
    levels = {g: m[0] - sum(c * m[j + 1] for j, c in enumerate(coef)) for g, m in means.items()}
    return Candidate(theta, coef, levels, max(rss, 0.0), inverse, centred, columns)


def _noise(points: Points, candidate: Candidate, params: int) -> Noise:
    """The noise about ``candidate``, each stretch's autocorrelation counted in
    proportion to its size."""
    residuals = [y - candidate.value(points, i) for i, y in enumerate(points.y)]
    weighted, largest = 0.0, 0.0
    for group in points.groups:
        mine = [r for r, g in zip(residuals, points.group, strict=True) if g == group]
        weighted += min(autocorrelation_time(mine), float(len(mine))) * len(mine)
        largest = max(largest, marginal_variance(mine))
    n = len(points.y)
    variance = candidate.rss / max(n - params, 1)
    excursions = 0
    for group in points.groups:
        signs = [r > 0 for r, g in zip(residuals, points.group, strict=True) if g == group]
        excursions += 1 + sum(1 for a, b in zip(signs, signs[1:], strict=False) if a != b)
    return Noise(variance=variance, correlation=max(weighted / n, 1.0),
                 marginal=max(largest, variance), n=n, excursions=excursions)


def _refine(points: Points, family: Family, candidates: list[Candidate]) -> list[Candidate]:
    """Candidates between the best grid value's neighbours, by golden-section search on
    the parameter's logarithm: the grid is coarse for a large rise."""
    thetas = [c.theta for c in candidates]
    best = min(range(len(candidates)), key=lambda i: candidates[i].rss)
    low = thetas[max(best - 1, 0)]
    high = thetas[min(best + 1, len(thetas) - 1)]
    assert low is not None and high is not None
    a, b = math.log(low), math.log(high)
    golden = (math.sqrt(5.0) - 1.0) / 2.0
    found = []
    for _ in range(REFINE_STEPS):
        left, right = b - golden * (b - a), a + golden * (b - a)
        fl, fr = fit_at(points, family, math.exp(left)), fit_at(points, family, math.exp(right))
        if fl is None or fr is None:
            break
        found += [fl, fr]
        if fl.rss < fr.rss:
            b = right
        else:
            a = left
    return found


def _candidates(points: Points, family: Family) -> list[Candidate]:
    """``family`` fitted at every value of its grid, and, for a continuous parameter,
    between the best one's neighbours."""
    candidates = [c for c in (fit_at(points, family, th) for th in family.grid(points))
                  if c is not None]
    if family.name not in STEPS and len(candidates) > 2:
        candidates += _refine(points, family, candidates)
    return candidates


def fit_shapes(points: Points, families: Sequence[Family] = FAMILIES,
               fewest: int = MIN_TREND_POINTS) -> tuple[list[ShapeFit], Noise] | None:
    """Every shape fitted to ``points``, best first by the information criterion, with
    the noise they were judged against. None with fewer than ``fewest`` points."""
    if len(points.x) < fewest or max(points.x) <= min(points.x):
        return None
    fitted: list[tuple[Family, list[Candidate]]] = []
    for family in families:
        candidates = _candidates(points, family)
        if candidates:
            fitted.append((family, candidates))
    if not fitted:
        return None
    levels = len(points.groups)
    # The noise is measured about the tightest fit first, then about the shape that fit
    # ranks best: a flexible shape at its best parameter also fits some of the noise's
    # slow wander, and would make the noise look smaller and quicker than it is.
    tightest = min(((f, c) for f, cs in fitted for c in cs), key=lambda fc: fc[1].rss)
    noise = _noise(points, tightest[1], levels + tightest[0].params)
    shapes = _ranked(points, fitted, noise)
    noise = _noise(points, shapes[0].best, levels + shapes[0].family.params)
    return _ranked(points, fitted, noise), noise


def _ranked(points: Points, fitted: list[tuple[Family, list[Candidate]]],
            noise: Noise) -> list[ShapeFit]:
    levels = len(points.groups)
    n_eff = max(noise.n_eff, 2.0)
    floor = noise.variance * 1e-9 + 1e-12  # a perfect fit must not give log(0)
    shapes = []
    for family, candidates in fitted:
        best = min(candidates, key=lambda c: c.rss)
        bic = (n_eff * math.log((best.rss + floor) / len(points.y))
               + (family.params + levels) * math.log(n_eff))
        shapes.append(ShapeFit(family, best, candidates, bic))
    shapes.sort(key=lambda s: s.bic)
    # Among shapes the data support about as well (within ``SIMPLER_WITHIN_BIC`` of the
    # lowest criterion), the simplest is the best: more parameters must earn their place.
    # A leak behind a warm-up whose line falls is memory given back after a rise: it
    # bounds what could hide, but is not the shape a verdict speaks of.
    speakable = [s for s in shapes
                 if not (s.family.name in LEAKS_BEHIND and s.best.coef[-1] < 0)] or shapes
    least = speakable[0].bic
    simplest = min((s for s in speakable if s.bic - least <= SIMPLER_WITHIN_BIC),
                   key=lambda s: (s.family.params, s.bic))
    shapes.remove(simplest)
    return [simplest, *shapes]


def plausible(shapes: list[ShapeFit]) -> list[ShapeFit]:
    """The best shape and every shape the data do not rule out (criterion within
    ``PLAUSIBLE_BIC``)."""
    least = min(s.bic for s in shapes)
    return [s for s in shapes if s is shapes[0] or s.bic - least <= PLAUSIBLE_BIC]


@dataclass(frozen=True)
class BoundErrors:
    """The two errors a bound on ``weights · coef`` is the tighter of, each with the
    degrees of freedom of its Student's t: the error corrected for the noise's
    autocorrelation, and the largest error any stationary noise of the measured wander
    could give (a weighted sum of the points has a standard deviation of at most
    σ·Σ|wᵢ|, whatever their correlation), whose σ is estimated once per excursion of
    the residuals (as few looks as that, when the noise wanders slowly)."""

    se: float
    dof: float
    worst: float
    worst_dof: float

    def margin(self, alpha: float) -> float:
        """How far a one-sided bound at ``alpha`` lies from the estimate: the tighter of
        the two, each at ``alpha / 2`` (so the pair errs at ``alpha`` at most)."""
        return min(t_quantile(1.0 - alpha / 2.0, self.dof) * self.se,
                   t_quantile(1.0 - alpha / 2.0, self.worst_dof) * self.worst)


def bound_errors(shape: ShapeFit, noise: Noise, weights: Sequence[float],
                 candidate: Candidate | None = None) -> BoundErrors:
    """The errors of ``weights · coef`` for the shape (at ``candidate``, else its best)."""
    c = candidate or shape.best
    inverse = c.inverse
    k = len(weights)
    dof = dof_of(shape, noise)
    worst_dof = max(float(noise.excursions) - 1.0, 1.0)
    if k == 0:
        return BoundErrors(0.0, dof, 0.0, worst_dof)
    row = [sum(weights[i] * inverse[i][j] for i in range(k)) for j in range(k)]
    quad = sum(row[j] * weights[j] for j in range(k))
    se = math.sqrt(max(quad, 0.0) * noise.variance * noise.correlation)
    # The estimate's weight on each point: wᵀ (X̃ᵀX̃)⁻¹ X̃ᵀ.
    point_weights = [sum(row[j] * c.centred[j][p] for j in range(k)) for p in range(noise.n)]
    worst = math.sqrt(noise.marginal) * sum(abs(w) for w in point_weights)
    return BoundErrors(se, dof, worst, worst_dof)


def linear_bound(shape: ShapeFit, noise: Noise, alpha: float, upper: bool,
                 weights: Sequence[float], candidate: Candidate | None = None) -> float:
    """A one-sided bound on ``weights · (the shape's own coefficients)``."""
    c = candidate or shape.best
    value = sum(w * k for w, k in zip(weights, c.coef, strict=True))
    spread = bound_errors(shape, noise, weights, c).margin(alpha)
    return value + spread if upper else value - spread


def dof_of(shape: ShapeFit, noise: Noise) -> float:
    """Degrees of freedom: independent points less the fitted parameters."""
    return max(noise.n_eff - len(shape.best.levels) - shape.family.params, 1.0)


def allowed(shape: ShapeFit, noise: Noise, alpha: float) -> list[Candidate]:
    """The values of the shape's nonlinear parameter the data allow at ``alpha``
    (likelihood ratio against its best, counted in independent points)."""
    if len(shape.candidates) == 1:
        return [shape.best]
    limit = chi2_quantile(1.0 - alpha, 1)
    n_eff = max(noise.n_eff, 2.0)
    best = max(shape.best.rss, noise.variance * 1e-9 + 1e-12)
    return [c for c in shape.candidates
            if n_eff * math.log(max(c.rss, best) / best) <= limit]


def shows_warmup(shape: ShapeFit, noise: Noise, candidate: Candidate) -> bool:
    """A leak behind a warm-up (or slowing growth) whose warm-up rise is clearly there
    (above zero at ``NO_LEAK_ALPHA``): without one it is the straight line, whose own
    fit bounds it, and the warm-up's column, nearly in line with the leak's at a long
    time constant, would only blur the leak's rate."""
    weights = [1.0] + [0.0] * (len(candidate.coef) - 1)
    return linear_bound(shape, noise, NO_LEAK_ALPHA, False, weights, candidate) > 0


def hidden_line_high(points: Points, shape: ShapeFit, noise: Noise, x0: float, x1: float,
                     alpha: float, span: float) -> float:
    """The highest growth from ``x0`` to ``x1`` at ``alpha`` of ``shape`` with a line
    beside it, over the parameter values the data allow that pair: what a leak hiding
    behind a cache that fills could add. A shape that bends is told from a leak behind
    it only by how its curve bends; this is what that tells, within the shape's own
    family (the leak-behind shapes of ``FAMILIES`` have their own curves, which the
    data may rule out for reasons that have nothing to do with a leak)."""
    if shape.family.name in ("flat", "linear", *LEAKS_BEHIND):
        return -math.inf
    family = with_a_line(shape.family)
    candidates = _candidates(points, family)
    if not candidates:
        return -math.inf
    nested = ShapeFit(family, min(candidates, key=lambda c: c.rss), candidates, shape.bic)
    # Both profiles: the pair's own, and the shape's (a real cache is rarely exactly a
    # power or a logarithm, and the pair may bend its curve to a misfit, with a falling
    # line beside it, where the shape alone, with a line added, shows what could hide).
    tried = allowed(nested, noise, alpha) + [
        c for c in (fit_at(points, family, own.theta) for own in allowed(shape, noise, alpha))
        if c is not None]
    high = -math.inf
    for candidate in tried:
        if (shape.family.name in BENDING and candidate.theta is not None
                and candidate.theta > BENDS_WITHIN * span):
            # Unbent over the run, the curve is a straight line, which trades with the
            # line beside it without bound; what a straight line hides, the plain
            # line's own bound says.
            continue
        weights = family.growth(candidate.theta, x0, x1)
        high = max(high, linear_bound(nested, noise, alpha, True, weights, candidate))
    return high


def project(shapes: list[ShapeFit], noise: Noise, x0: float, x1: float,
            alpha_low: float, alpha_high: float, span: float | None = None) -> Projection:
    """Growth from ``x0`` to ``x1`` by the best shape, with bounds: the highest upper
    bound at ``alpha_high`` over every plausible shape (a leak could hide behind any of
    them), and the lowest lower bound at ``alpha_low`` over the plausible shapes that
    may stand against the best one.

    Those are the best, the shapes no more complex than it (a shape more flexible than
    the best one has not earned its parameters: a leak behind a warm-up always fits a
    plain leak as well), and the shapes that bend and stop with a bend the run can see:
    a parameter up to ``BENDS_WITHIN`` times ``span`` (the x the points cover). Unbent,
    they are a straight line (a warm-up with a time constant of hours is a line over two
    minutes), and would stand against every leak, however straight its growth."""
    best = shapes[0]
    low, high = math.inf, -math.inf
    for shape in plausible(shapes):
        for c in allowed(shape, noise, alpha_high):
            if shape.family.name in LEAKS_BEHIND and not shows_warmup(shape, noise, c):
                continue
            weights = shape.family.growth(c.theta, x0, x1)
            bound = linear_bound(shape, noise, alpha_high, True, weights, c) if weights else 0.0
            high = max(high, bound)
        bending = span is not None and shape.family.name in BENDING and shape is not best
        if shape.family.params > best.family.params and not bending:
            continue
        behind = span is not None and shape.family.name in LEAKS_BEHIND
        for c in allowed(shape, noise, alpha_low):
            if bending and span is not None and (c.theta is None
                                                 or c.theta > BENDS_WITHIN * span):
                continue
            if behind and span is not None and (c.theta is None
                                                or c.theta > OVER_WITHIN * span):
                # A warm-up still under way when the load ended trades off with the
                # leak's rate; whether it was all warm-up, the bending shapes say.
                continue
            weights = shape.family.growth(c.theta, x0, x1)
            bound = linear_bound(shape, noise, alpha_low, False, weights, c) if weights else 0.0
            low = min(low, bound)
    estimate = best.growth(x0, x1)
    return Projection(estimate=estimate, low=min(low, estimate), high=max(high, estimate))
