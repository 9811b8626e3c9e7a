"""Scaling verdict from how service memory grows with the number of users.

The seed's rules: growth about linear with users → scale horizontally (more
instances); faster than linear → vertically (bigger instances); poor recovery →
optimise first. A suspected leak is the poorest recovery of all, so it also says
optimise. The growth is measured, not assumed: with ``--users-steps`` the load phase
holds each user count in turn and each step's peak is fitted against its users.
"""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.analysis.series import MemorySeries
from memory_analysis.analysis.stats import linear_fit, r_squared

POOR_RECOVERY_PERCENT = 60.0  # the level table's critical boundary
# The memory added per extra user in the upper half of the steps over the lower half's
# at or above this: faster than linear.
SUPERLINEAR_RATIO = 1.5


def steps_from_series(series: MemorySeries) -> list[dict[str, Any]]:
    """Each load step's users and its peak service memory, by ``load_users`` tags."""
    peaks: dict[int, float] = {}
    for users, phase, mb in zip(series.load_users, series.phase, series.mb, strict=True):
        if phase == "load" and users:
            peaks[users] = max(peaks.get(users, mb), mb)
    return [{"users": users, "peak_mb": round(peak, 2)} for users, peak in sorted(peaks.items())]


def _solve3(matrix: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Gaussian elimination for a 3×3 system; None when singular."""
    m = [row[:] + [value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(3):
        pivot = max(range(col, 3), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for row in range(3):
            if row != col:
                factor = m[row][col] / m[col][col]
                m[row] = [a - factor * b for a, b in zip(m[row], m[col], strict=True)]
    return [m[i][3] / m[i][i] for i in range(3)]


def quadratic_fit(xs: list[float], ys: list[float]) -> tuple[list[float], float] | None:
    """Least-squares y = a + b·x + c·x²: ([a, b, c], R²); None with fewer than 3 points."""
    if len(xs) < 3:
        return None
    sums = [sum(x ** k for x in xs) for k in range(5)]
    matrix = [[sums[i + j] for j in range(3)] for i in range(3)]
    rhs = [sum(y * x ** i for x, y in zip(xs, ys, strict=True)) for i in range(3)]
    coef = _solve3(matrix, rhs)
    if coef is None:
        return None
    return coef, r_squared(ys, [coef[0] + coef[1] * x + coef[2] * x * x for x in xs])


def exponential_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float] | None:
    """y = a·e^(b·x) fitted on log y: (a, b, R² on the original scale); None if any y ≤ 0."""
    if len(xs) < 2 or any(y <= 0 for y in ys):
        return None
    fit = linear_fit(xs, [math.log(y) for y in ys])
    if fit is None:
        return None
    b, log_a, _ = fit
    a = math.exp(log_a)
    return a, b, r_squared(ys, [a * math.exp(b * x) for x in xs])


def _fits(users: list[float], mb: list[float]) -> dict[str, Any]:
    fits: dict[str, Any] = {}
    linear = linear_fit(users, mb)
    if linear:
        fits["linear"] = {"mb_per_user": round(linear[0], 3), "intercept_mb": round(linear[1], 2),
                          "r_squared": round(linear[2], 3)}
    quadratic = quadratic_fit(users, mb)
    if quadratic:
        fits["quadratic"] = {"coefficients": [round(c, 6) for c in quadratic[0]],
                             "r_squared": round(quadratic[1], 3)}
    exponential = exponential_fit(users, mb)
    if exponential:
        fits["exponential"] = {"a_mb": round(exponential[0], 3),
                               "b_per_user": round(exponential[1], 6),
                               "r_squared": round(exponential[2], 3)}
    return fits


def _half_slopes(users: list[float], mb: list[float]) -> tuple[float, float]:
    """MB per user over the lower and the upper half of the steps (the middle step of an
    odd count belongs to both)."""
    half = math.ceil(len(users) / 2)
    lower = linear_fit(users[:half], mb[:half])
    upper = linear_fit(users[-half:], mb[-half:])
    return (lower[0] if lower else 0.0), (upper[0] if upper else 0.0)


def scaling_verdict(steps: list[dict[str, Any]] | None, users: int | None = None,
                    recovery_percent: float | None = None, leak_suspected: bool = False,
                    noise_mb: float = 2.0) -> dict[str, Any]:
    """The report's ``recommendations.scaling``: ``strategy`` ("horizontal", "vertical"
    or "optimize"), ``reason``, ``basis`` ("steps" or "one load level"), the fits.

    ``steps``: ``[{"users": u, "peak_mb": m}, ...]`` (see ``steps_from_series``).
    ``users``: the single user count of a run without steps, for the reason.
    """
    steps = sorted(steps or [], key=lambda s: s["users"])
    xs = [float(s["users"]) for s in steps]
    ys = [float(s["peak_mb"]) for s in steps]
    result: dict[str, Any] = {"basis": "steps" if len(steps) >= 2 else "one load level",
                              "steps": steps, "fit": _fits(xs, ys) if len(steps) >= 2 else {}}
    growth = (ys[-1] - ys[0]) if len(ys) >= 2 else 0.0

    shape, why = _shape(xs, ys, growth, noise_mb, result["fit"], users)
    result["growth_shape"] = shape
    if leak_suspected:
        result.update(strategy="optimize", reason="a leak is suspected: fix it before sizing "
                      "or scaling, as more memory or more instances only delay the OOM kill; "
                      + why)
    elif recovery_percent is not None and recovery_percent < POOR_RECOVERY_PERCENT:
        result.update(strategy="optimize", reason=f"recovery after load is poor "
                      f"({recovery_percent:.0f} %): memory stays high once used, so each "
                      "instance must be sized for its plateau; bound caches and release memory "
                      "before scaling; " + why)
    elif shape == "not measured":
        result.update(strategy="horizontal", reason="horizontal scaling assumed, as for most "
                      "stateless web services; " + why)
    else:
        result.update(strategy="vertical" if shape == "faster than linear" else "horizontal",
                      reason=why)
    return result


def _shape(xs: list[float], ys: list[float], growth: float, noise_mb: float,
           fits: dict[str, Any], users: int | None) -> tuple[str, str]:
    if len(xs) < 2:
        level = f"{users} users" if users else "one user count"
        return "not measured", (f"rests on one load level ({level}): how memory grows with "
                                "users was not measured; run with --users-steps (e.g. "
                                "5,10,20) to measure it")
    span = f"{ys[0]:.0f} MB at {xs[0]:.0f} users to {ys[-1]:.0f} MB at {xs[-1]:.0f}"
    if abs(growth) < noise_mb:
        return "flat", (f"memory barely changes with users ({span}): each instance needs about "
                        "the same memory, so add instances as users grow (horizontal)")
    r2 = fits.get("linear", {}).get("r_squared")
    if len(xs) == 2:
        per_user = (ys[1] - ys[0]) / (xs[1] - xs[0])
        return "linear", (f"{per_user:.2f} MB per extra user ({span}); two steps cannot show "
                          "curvature, so linear growth and horizontal scaling are assumed; "
                          "add a third step to check")
    lower, upper = _half_slopes(xs, ys)
    fit_note = (f"linear fit R² {r2:.2f}, quadratic R² {fits['quadratic']['r_squared']:.2f}"
                if "quadratic" in fits and r2 is not None else f"linear fit R² {r2}")
    superlinear = upper * (xs[-1] - xs[0]) / 2 > noise_mb and (
        upper >= SUPERLINEAR_RATIO * lower if lower > 0 else True)
    if superlinear:
        return "faster than linear", (
            f"memory per extra user rises from {lower:.2f} to {upper:.2f} MB as users grow "
            f"({span}; {fit_note}): faster than linear, so more users cost more memory per "
            "instance; give instances more memory (vertical) and find what grows per user")
    return "linear", (f"about {fits['linear']['mb_per_user']:.2f} MB per extra user ({span}; "
                      f"{fit_note}): close to linear, so add instances as users grow "
                      "(horizontal)")
