"""Plain statistics over lists of numbers. Pure functions, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from statistics import NormalDist


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The ``pct`` percentile (0-100) by linear interpolation between closest ranks.

    None for an empty sequence. ``values`` need not be sorted.
    """
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Sequence[float], digits: int = 2) -> dict[str, float | None]:
    """min, mean, max and p95 of ``values``, rounded; all None when empty."""
    if not values:
        return {"min": None, "mean": None, "max": None, "p95": None}
    p95 = percentile(values, 95)
    return {
        "min": round(min(values), digits),
        "mean": round(sum(values) / len(values), digits),
        "max": round(max(values), digits),
        "p95": round(p95, digits) if p95 is not None else None,
    }


def median(values: Sequence[float]) -> float | None:
    """The middle value (mean of the two middle ones for an even count); None when empty."""
    return percentile(values, 50)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float] | None:
    """Least-squares line through the points: (slope, intercept, R²).

    R² is 1.0 when the ys do not vary at all (a flat line explains them fully).
    None with fewer than two points or when all xs are equal.
    """
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    return slope, intercept, r_squared(ys, [intercept + slope * x for x in xs])


def r_squared(ys: Sequence[float], predicted: Sequence[float]) -> float:
    """Share of the variance of ``ys`` that ``predicted`` explains (1.0 for constant ys)."""
    mean_y = sum(ys) / len(ys)
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - p) ** 2 for y, p in zip(ys, predicted, strict=True))
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def thin(values: Sequence[float], most: int) -> list[float]:
    """At most ``most`` values, evenly spaced over ``values`` (first and last kept)."""
    if len(values) <= most:
        return list(values)
    step = (len(values) - 1) / (most - 1)
    return [values[round(i * step)] for i in range(most)]


def mad(values: Sequence[float]) -> float | None:
    """Median absolute deviation scaled to match a standard deviation on normal data."""
    middle = median(values)
    if middle is None:
        return None
    spread = median([abs(v - middle) for v in values])
    return None if spread is None else 1.4826 * spread


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting; None when singular."""
    size = len(rhs)
    m = [row[:] + [value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for row in range(size):
            if row != col:
                factor = m[row][col] / m[col][col]
                m[row] = [a - factor * b for a, b in zip(m[row], m[col], strict=True)]
    return [m[i][size] / m[i][i] for i in range(size)]


def least_squares(columns: list[list[float]], y: list[float]
                  ) -> tuple[list[float], float, list[list[float]]] | None:
    """Ordinary least squares of ``y`` on ``columns``: (coefficients, residual sum of
    squares, inverse of XᵀX); None when the columns are collinear."""
    k = len(columns)
    xtx = [[sum(a * b for a, b in zip(columns[i], columns[j], strict=True)) for j in range(k)]
           for i in range(k)]
    xty = [sum(a * b for a, b in zip(columns[i], y, strict=True)) for i in range(k)]
    coef = _solve(xtx, xty)
    if coef is None:
        return None
    inverse = []
    for j in range(k):
        unit = [1.0 if i == j else 0.0 for i in range(k)]
        column = _solve(xtx, unit)
        if column is None:
            return None
        inverse.append(column)
    fitted = [sum(coef[i] * columns[i][r] for i in range(k)) for r in range(len(y))]
    rss = sum((a - b) ** 2 for a, b in zip(y, fitted, strict=True))
    return coef, rss, inverse


def z_one_sided(alpha: float) -> float:
    """The standard normal quantile exceeded with probability ``alpha``."""
    return NormalDist().inv_cdf(1.0 - alpha)


def chi2_quantile(p: float, dof: int) -> float:
    """Quantile of the chi-square distribution (Wilson–Hilferty, within 1 % for dof ≥ 1
    at the tail probabilities used here)."""
    z = NormalDist().inv_cdf(p)
    h = 2.0 / (9.0 * dof)
    return dof * (1.0 - h + z * h ** 0.5) ** 3


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log(1.0 - x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(value: float, dof: float) -> float:
    """Student's t distribution function with ``dof`` (> 0, not necessarily whole)."""
    tail = 0.5 * _betainc(dof / 2.0, 0.5, dof / (dof + value * value))
    return 1.0 - tail if value >= 0 else tail


@lru_cache(maxsize=4096)
def t_quantile(p: float, dof: float) -> float:
    """The value Student's t with ``dof`` degrees of freedom stays under with
    probability ``p`` (bisection on ``t_cdf``; the normal quantile for large dof)."""
    if dof > 1e6:
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, dof)
    low, high = 0.0, 1.0
    while t_cdf(high, dof) < p:
        high *= 2.0
    for _ in range(60):  # 2^-60 of the bracket: far below any figure's rounding
        middle = (low + high) / 2.0
        if t_cdf(middle, dof) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0
