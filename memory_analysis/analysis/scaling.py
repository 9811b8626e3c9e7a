"""Scaling verdict from how service memory grows with load, measured in steps.

The seed's rules: memory about linear in the load → scale horizontally (more instances);
faster than linear → vertically (bigger instances); poor recovery → optimise first. A
leak is the poorest recovery of all, so it also says optimise.

With ``--users-steps`` each step holds one user count. Its memory is the level it
settled at (after the step's own transient, so the first step's warm-up does not pass
for growth with users), with a standard error from the noise, never below a third of
the noise floor (two runs at the same load differ by that much). Memory is fitted
against the concurrency the load tester measured (mean requests in flight, by Little's
law), which is what holds memory in a server, or against users when that is unknown.

The shape is chosen by nested tests, each parameter earning its place at ``SHAPE_ALPHA``
(flat, then a line, then a curve), never by R² (which a curve with as many parameters as
points always maximises). Too few steps, or steps that disagree with every shape, are
said so. When memory still grew within the steps (a leak, or a warm-up longer than a
step), growth across them cannot be put down to the load.

Beside the seed's rule, ``instances_by_cost`` prices the measured peak load served by
one, two, four and eight instances, each keeping its own baseline, from the fitted curve
and the plan catalogs, and says which costs least.
"""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.analysis.plans import cheapest_plan
from memory_analysis.analysis.shape import least_squares
from memory_analysis.analysis.sizing import requirements
from memory_analysis.analysis.stats import chi2_quantile
from memory_analysis.analysis.thresholds import INSTANCE_COUNTS, NOISE_SIGMAS, SHAPE_ALPHA
from memory_analysis.numbers import amount, usd


def _weighted_fit(xs: list[float], ys: list[float], sds: list[float], degree: int
                  ) -> tuple[list[float], float] | None:
    """Weighted least squares polynomial of ``degree``: (coefficients, χ²)."""
    columns = [[x ** k / s for x, s in zip(xs, sds, strict=True)] for k in range(degree + 1)]
    target = [y / s for y, s in zip(ys, sds, strict=True)]
    fit = least_squares(columns, target)
    if fit is None:
        return None
    return fit[0], fit[1]


def _round(values: list[float], digits: int = 4) -> list[float]:
    return [round(v, digits) for v in values]


def choose_shape(xs: list[float], ys: list[float], sds: list[float]
                 ) -> tuple[str, dict[str, Any], list[str]]:
    """(shape, fits, notes) for levels ``ys`` ± ``sds`` at loads ``xs`` (sorted)."""
    fits: dict[str, Any] = {}
    notes: list[str] = []
    critical = chi2_quantile(1.0 - SHAPE_ALPHA, 1)
    flat = _weighted_fit(xs, ys, sds, 0)
    line = _weighted_fit(xs, ys, sds, 1)
    assert flat is not None
    fits["flat"] = {"level_mb": round(flat[0][0], 2), "chi2": round(flat[1], 2)}
    shape = "flat"
    chosen = flat
    if line is not None:
        fits["linear"] = {"intercept_mb": round(line[0][0], 2), "mb_per_unit": round(line[0][1], 4),
                          "chi2": round(line[1], 2)}
        if flat[1] - line[1] > critical:
            shape, chosen = ("linear" if line[0][1] > 0 else "decreasing"), line
    curve = _weighted_fit(xs, ys, sds, 2) if len(xs) >= 3 else None
    if curve is not None:
        fits["quadratic"] = {"coefficients": _round(curve[0], 6), "chi2": round(curve[1], 2)}
        base = line if line is not None else flat
        if base[1] - curve[1] > critical and shape != "decreasing":
            shape = "faster than linear" if curve[0][2] > 0 else "slower than linear"
            chosen = curve
            if len(xs) == 3:
                notes.append("three steps fit a curve exactly, so the curve itself is unchecked; "
                             "add a step to confirm it")
    dof = len(xs) - len(chosen[0])
    if dof > 0 and chosen[1] > chi2_quantile(1.0 - SHAPE_ALPHA, dof):
        notes.append("the steps disagree with every shape tried by more than their noise "
                     "allows (a warm-up, garbage collection or another process moved them): "
                     "repeat the run, or use more and longer steps")
    if len(xs) == 2 and shape != "flat":
        notes.append("two steps cannot show curvature; add a third to check it")
    return shape, fits, notes


def scaling_verdict(steps: list[dict[str, Any]] | None, users: int | None = None,
                    optimise_reason: str | None = None,
                    grew_within_steps: bool = False) -> dict[str, Any]:
    """The report's ``recommendations.scaling``: ``strategy`` ("horizontal", "vertical"
    or "optimize"), ``reason``, ``basis`` ("steps" or "one load level"), ``load_basis``
    ("concurrency" or "users"), ``growth_shape``, ``steps`` and ``fit``.

    ``steps``: ``[{"users", "mean_in_flight" (or None), "level_mb", "level_se_mb",
    "peak_mb"}]`` (``step_levels``); ``optimise_reason``: why to optimise first
    (a leak, poor recovery), if so; ``grew_within_steps``: memory kept growing at equal
    load, so growth across steps is not the load's.
    """
    steps = sorted(steps or [], key=lambda s: s["users"])
    result: dict[str, Any] = {"basis": "steps" if len(steps) >= 2 else "one load level",
                              "steps": steps, "fit": {}}
    shape, why = _shape(steps, users, grew_within_steps, result)
    result["growth_shape"] = shape
    if optimise_reason:
        result.update(strategy="optimize", reason=f"{optimise_reason}; {why}")
    elif shape == "not measured":
        result.update(strategy="horizontal", reason="horizontal scaling assumed, as for most "
                      "stateless web services; " + why)
    else:
        result.update(strategy="vertical" if shape == "faster than linear" else "horizontal",
                      reason=why)
    return result


def _shape(steps: list[dict[str, Any]], users: int | None, grew_within_steps: bool,
           result: dict[str, Any]) -> tuple[str, str]:
    if len(steps) < 2:
        level = f"{users} users" if users else "one user count"
        return "not measured", (f"it rests on one load level ({level}): how memory grows with "
                                "load was not measured; run with --users-steps (e.g. 5,10,20,40) "
                                "to measure it")
    if grew_within_steps:
        return "not measured", ("memory kept growing within the steps, at equal load, so its "
                                "growth across them cannot be put down to the load; see the "
                                "leak verdict")
    by_flight = all(s.get("mean_in_flight") for s in steps)
    unit = "request in flight" if by_flight else "user"
    result["load_basis"] = "concurrency" if by_flight else "users"
    xs = [float(s["mean_in_flight"] if by_flight else s["users"]) for s in steps]
    ys = [float(s["level_mb"]) for s in steps]
    sds = [float(s["level_se_mb"]) for s in steps]
    if len(set(xs)) < 2:
        return "not measured", "every step ran at the same concurrency"
    shape, fits, notes = choose_shape(xs, ys, sds)
    result["fit"] = fits
    span = (f"{ys[0]:.1f} MB at {xs[0]:.1f} to {ys[-1]:.1f} MB at {xs[-1]:.1f} "
            f"{'in flight' if by_flight else 'users'}")
    tail = ("; " + "; ".join(notes)) if notes else ""
    if shape == "flat":
        return shape, (f"memory does not change with load beyond its noise ({span}): each "
                       f"instance needs about the same memory, so add instances as load grows "
                       f"(horizontal){tail}")
    per = fits["linear"]["mb_per_unit"]
    if shape == "decreasing":
        return shape, (f"memory falls as load rises ({span}; {per:.2f} MB per {unit}): the "
                       "lower steps still held start-up or warm-up memory that the higher ones "
                       f"freed or reused; memory does not limit scaling out (horizontal){tail}")
    if shape == "linear":
        return shape, (f"about {per:.2f} MB per extra {unit} ({span}): linear, so add "
                       f"instances as load grows (horizontal){tail}")
    coefficients = fits["quadratic"]["coefficients"]
    slope_low = coefficients[1] + 2 * coefficients[2] * xs[0]
    slope_high = coefficients[1] + 2 * coefficients[2] * xs[-1]
    if shape == "slower than linear":
        return shape, (f"memory per extra {unit} falls from {slope_low:.2f} to "
                       f"{slope_high:.2f} MB as load grows ({span}): slower than linear, "
                       f"so instances fill up gently; add instances (horizontal){tail}")
    return shape, (f"memory per extra {unit} rises from {slope_low:.2f} to {slope_high:.2f} MB "
                   f"as load grows ({span}): faster than linear, so each extra {unit} costs "
                   "more than the last; give instances more memory (vertical) and find what "
                   f"grows with load{tail}")


def step_levels(levels: list[tuple[int, float | None, float, float, float]],
                noise_mb: float) -> list[dict[str, Any]]:
    """Steps for ``scaling_verdict`` from (users, mean in flight, settled level MB, its
    standard error, peak MB) per step; the standard error never below a third of the
    noise floor."""
    floor = noise_mb / NOISE_SIGMAS
    out = []
    for users, in_flight, level, se, peak in levels:
        out.append({"users": users,
                    "mean_in_flight": None if in_flight is None else round(in_flight, 2),
                    "level_mb": round(level, 2),
                    "level_se_mb": round(max(se if math.isfinite(se) else floor, floor), 3),
                    "peak_mb": round(peak, 2)})
    return out


def fitted_level(scaling: dict[str, Any], load: float) -> float | None:
    """The settled memory (MB) the chosen shape of ``scaling`` (``scaling_verdict``'s
    result) gives at ``load`` (requests in flight, or users: its ``load_basis``); None
    when no shape was measured."""
    fit, shape = scaling.get("fit") or {}, scaling.get("growth_shape")
    if shape == "flat":
        return float(fit["flat"]["level_mb"])
    if shape in ("linear", "decreasing"):
        return float(fit["linear"]["intercept_mb"] + fit["linear"]["mb_per_unit"] * load)
    if shape in ("faster than linear", "slower than linear"):
        return float(sum(c * load ** k for k, c in enumerate(fit["quadratic"]["coefficients"])))
    return None


def _loads(scaling: dict[str, Any]) -> list[float]:
    by_flight = scaling.get("load_basis") == "concurrency"
    return [float(s["mean_in_flight"] if by_flight else s["users"]) for s in scaling["steps"]]


def instances_by_cost(scaling: dict[str, Any], peak_mb: float | None,
                      baseline_mb: float | None, catalogs: list[dict[str, Any]]
                      ) -> dict[str, Any]:
    """``scaling`` with the cost of serving the measured peak load on 1, 2, 4 and 8
    instances, when the steps measured a curve (basis "steps", a shape other than "not
    measured"); unchanged otherwise.

    The peak load (``peak_load``) is the highest step's: mean requests in flight, or users
    (``load_basis``). Split among ``k`` instances, each serves ``peak_load / k`` and keeps
    its own baseline, so each holds the run's peak less the memory the load taken off it
    held by the fitted curve: ``peak − (f(peak_load) − f(peak_load / k))``, where ``f`` is
    never taken below the run's idle baseline nor above ``f(peak_load)`` (a curve that
    falls, or dips when extrapolated below the lowest step, frees nothing). That memory
    gets the seed's recommended margin, as plans are chosen for: ``per_instance_mb`` is
    twice it, rounded up, so one instance needs exactly ``recommended_memory_mb``.

    Adds ``instances``: ``[{"instances", "load_per_instance", "level_mb",
    "per_instance_mb", "total_mb", "plan", "monthly_cost", "extrapolated"}]``, ``plan``
    being ``cheapest_plan`` for ``per_instance_mb`` (None when no priced plan holds it)
    and ``monthly_cost`` k times its price; ``cheapest_instances`` (fewest of the
    cheapest, None when nothing is priced) and ``cost_note``, which names the cheapest way
    and says where it parts from ``strategy`` (the seed's rule) and why.
    """
    if (scaling.get("basis") != "steps" or peak_mb is None
            or fitted_level(scaling, 0.0) is None):
        return scaling
    loads = _loads(scaling)
    top, lowest = max(loads), min(loads)
    at_top = fitted_level(scaling, top)
    assert at_top is not None
    floor = baseline_mb if baseline_mb is not None else -math.inf
    rows = []
    for count in INSTANCE_COUNTS:
        share = top / count
        level = min(max(fitted_level(scaling, share) or 0.0, floor), at_top)
        held = peak_mb - (at_top - level)
        per_instance = requirements(held)["recommended_memory_mb"]
        assert per_instance is not None
        plan = cheapest_plan(catalogs, per_instance)
        rows.append({"instances": count, "load_per_instance": round(share, 2),
                     "level_mb": round(level, 1), "per_instance_mb": per_instance,
                     "total_mb": count * per_instance, "plan": plan,
                     "monthly_cost": (round(count * plan["monthly_usd"], 2)
                                      if plan is not None else None),
                     "extrapolated": share < lowest})
    priced = [r for r in rows if r["monthly_cost"] is not None]
    best = min(priced, key=lambda r: (r["monthly_cost"], r["instances"])) if priced else None
    return {**scaling, "peak_load": round(top, 2), "instances": rows,
            "cheapest_instances": best["instances"] if best else None,
            "cost_note": _cost_note(scaling, rows, best)}


def _way(row: dict[str, Any]) -> str:
    """"2 instances of t3.small (aws) at $30.36 a month"."""
    plan = row["plan"]
    count = "one instance" if row["instances"] == 1 else f"{row['instances']} instances"
    return f"{count} of {plan['plan']} ({plan['provider']}) at {usd(row['monthly_cost'])} a month"


def _cost_note(scaling: dict[str, Any], rows: list[dict[str, Any]],
               best: dict[str, Any] | None) -> str:
    """The cost view in a sentence or three: the cheapest way, and where and why it parts
    from the seed's strategy."""
    if best is None:
        return ("no plan in the catalogs has a price and holds these sizes, so what each way "
                "costs is unknown (give monthly_usd in the catalog)")
    unit = "request in flight" if scaling.get("load_basis") == "concurrency" else "user"
    one = rows[0]
    note = f"cheapest for the measured peak load (memory alone): {_way(best)}"
    if best.get("extrapolated"):
        note += (f" (its share, {amount(best['load_per_instance'])} per instance, is below the "
                 "lowest step, so its memory is extrapolated)")
    strategy = scaling.get("strategy")
    alone = amount(one["per_instance_mb"], "MB")
    if strategy == "vertical" and best["instances"] > 1:
        against = (f"one instance of {one['plan']['plan']} ({one['plan']['provider']}) costs "
                   f"{usd(one['monthly_cost'])}" if one["monthly_cost"] is not None
                   else f"no priced plan holds the {alone} one instance needs")
        why = (f"As memory per extra {unit} rises with load, splitting the load takes more "
               f"off each instance than the baseline each keeps: "
               f"{amount(best['total_mb'], 'MB')} in all against {alone} for one"
               if best["total_mb"] <= one["per_instance_mb"] else
               f"The small instances hold more in all ({amount(best['total_mb'], 'MB')} "
               f"against {alone}), but plans come in fixed sizes whose prices do not rise in "
               "step with memory: the one plan that holds it all costs more")
        note += (f". That parts from the seed's rule (vertical, for faster-than-linear "
                 f"growth): {against}. {why}")
    elif strategy == "horizontal" and best["instances"] == 1 and rows[1]["monthly_cost"]:
        two = rows[1]
        why = (f"each added instance keeps its own baseline: two need "
               f"{amount(two['total_mb'], 'MB')} between them against {alone} for one"
               if two["total_mb"] > one["per_instance_mb"] else
               f"plans come in fixed sizes whose prices do not fall in step with memory: two "
               f"need no more memory in all ({amount(two['total_mb'], 'MB')} against {alone})")
        note += (f". That parts from the horizontal strategy the growth suggests: "
                 f"{_way(two)} cost more, as {why}. Add instances when the load outgrows "
                 "the largest plan, or for redundancy")
    return note
