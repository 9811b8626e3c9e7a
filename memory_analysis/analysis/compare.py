"""Two runs side by side (``memory_analysis_runner.py compare A B``): each figure of
both, the change from A to B, and which run had the bigger peak; and the memory gate
(``--fail-on-regression``): which of peak, held memory and leak rate got worse beyond
both a percentage and the runs' own noise (the rule: ``thresholds.py``). Pure: two
comprehensive reports in, plain data out."""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.analysis.series import memory_of
from memory_analysis.analysis.stats import mad, z_one_sided
from memory_analysis.analysis.thresholds import (
    NEGLIGIBLE_GROWTH_MB,
    NEGLIGIBLE_GROWTH_SHARE,
    NOISE_SIGMAS,
    PLATEAU_SHARE,
    REGRESSION_ALPHA,
    shown,
)
from memory_analysis.errors import BadInput

LEVELS = ("safe", "warning", "critical")

# (name, where in the report, unit): the figures compared.
FIGURES = (
    ("baseline", ("memory", "baseline_mb"), "MB"),
    ("peak", ("memory", "peak_mb"), "MB"),
    ("growth under load", ("memory", "growth_mb"), "MB"),
    ("end of cooldown", ("memory", "cooldown_end_mb"), "MB"),
    ("recovery", ("memory", "recovery_percent"), "%"),
    ("memory trend", ("memory", "leak", "slope_mb_per_min"), "MB/min"),
    ("recommended memory", ("recommendations", "recommended_memory_mb"), "MB"),
    ("requests/s", ("load_test", "rps"), "req/s"),
    ("p50 latency", ("load_test", "latency_ms", "p50"), "ms"),
    ("p95 latency", ("load_test", "latency_ms", "p95"), "ms"),
    ("p99 latency", ("load_test", "latency_ms", "p99"), "ms"),
    ("error rate", ("load_test", "error_rate"), "fraction of requests"),
)


def _at(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = report
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def compare(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> dict[str, Any]:
    """``names``: how to call the two runs (their directories)."""
    rows = []
    for label, path, unit in FIGURES:
        first, second = _at(a, path), _at(b, path)
        delta = percent = None
        if isinstance(first, (int, float)) and isinstance(second, (int, float)):
            delta = round(second - first, 3)
            percent = round(delta * 100.0 / first, 1) if first else None
        rows.append({"figure": label, "unit": unit, "a": first, "b": second,
                     "delta": delta, "delta_percent": percent})
    verdicts = [{"figure": label, "a": _at(a, path), "b": _at(b, path)}
                for label, path in (("level", ("assessment", "level")),
                                    ("leak", ("memory", "leak", "verdict")))]
    peaks = (_at(a, ("memory", "peak_mb")), _at(b, ("memory", "peak_mb")))
    bigger = None
    if all(isinstance(p, (int, float)) for p in peaks) and peaks[0] != peaks[1]:
        bigger = names[0] if peaks[0] > peaks[1] else names[1]
    levels = [_at(r, ("assessment", "level")) for r in (a, b)]
    worse = None
    if all(level in LEVELS for level in levels) and levels[0] != levels[1]:
        worse = names[0] if LEVELS.index(levels[0]) > LEVELS.index(levels[1]) else names[1]
    return {"a": names[0], "b": names[1], "figures": rows, "verdicts": verdicts,
            "bigger_peak": bigger, "worse_level": worse}


# -- the memory gate ---------------------------------------------------------------------------

# The memory figures the gate judges: (name, key in the report's ``memory``).
GATED_MB = (("peak", "peak_mb"), ("held memory", "held_mb"))
LEAK_RATE = "leak rate"


def check_regression_percent(percent: float) -> float:
    """``percent`` as a --fail-on-regression value: a finite number, 0 or more."""
    if not isinstance(percent, (int, float)) or not math.isfinite(percent) or percent < 0:
        got = f"{percent:g}" if isinstance(percent, (int, float)) else repr(percent)
        raise BadInput(f"--fail-on-regression must be a percentage, 0 or more (got {got})")
    return float(percent)


def _tail(values: list[float]) -> list[float]:
    return values[-max(1, round(len(values) * PLATEAU_SHARE)):]


def figure_noise_mb(report: dict[str, Any], samples: list[dict[str, Any]]
                    ) -> dict[str, float]:
    """One standard deviation (MB) of a run's peak and held memory: the larger of its
    noise floor over NOISE_SIGMAS and the robust spread of the samples the figure rests
    on (``samples``: the monitor's, tagged with their phase; none: the floor alone)."""
    memory = report.get("memory") or {}
    floor = memory.get("noise_floor_mb")
    if not isinstance(floor, (int, float)):  # a report from before the floor was written
        floor = max(NEGLIGIBLE_GROWTH_MB,
                    NEGLIGIBLE_GROWTH_SHARE * (memory.get("baseline_mb") or 0.0))
    least = floor / NOISE_SIGMAS
    metric = memory.get("metric")
    by_cycle: dict[tuple[str, int], list[float]] = {}
    for sample in samples:
        mb, phase = memory_of(sample, metric), sample.get("phase")
        if mb is not None and phase is not None:
            by_cycle.setdefault((phase, sample.get("cycle") or 1), []).append(mb)
    phases: dict[str, list[float]] = {}  # each phase's samples in its last cycle
    for (phase, _), values in sorted(by_cycle.items()):
        phases[phase] = values
    peak = mad(_tail(phases.get("load") or [])) or 0.0
    held = math.hypot(mad(phases.get("baseline") or []) or 0.0,
                      mad(_tail(phases.get("cooldown") or [])) or 0.0)
    return {"peak": max(least, peak), "held memory": max(least, held)}


def _mb(value: float) -> str:
    return f"{value:,.1f} MB"


def _percent_text(percent: float | None) -> str:
    return "" if percent is None else f" ({percent:+.1f} %)"


def _gate_mb(label: str, key: str, base: dict[str, Any], new: dict[str, Any],
             noise: tuple[float, float], percent: float) -> dict[str, Any]:
    first = (base.get("memory") or {}).get(key)
    second = (new.get("memory") or {}).get(key)
    row: dict[str, Any] = {"figure": label, "unit": "MB", "base": first, "new": second,
                           "change": None, "change_percent": None, "noise": None,
                           "regressed": False}
    if not isinstance(first, (int, float)) or not isinstance(second, (int, float)):
        missing = [name for name, value in (("base", first), ("new", second))
                   if not isinstance(value, (int, float))]
        row["text"] = f"{label}: not measured in the {' and '.join(missing)} run, not compared"
        return row
    z = z_one_sided(REGRESSION_ALPHA)
    change = shown(second - first, 1)
    beyond = shown(z * math.hypot(*noise), 1)
    change_percent = shown(change * 100.0 / first, 1) if first > 0 else None
    more = change > beyond
    large = change_percent is None or change_percent > percent
    row.update(change=change, change_percent=change_percent, noise=beyond,
               regressed=more and large)
    if change <= 0:
        row["text"] = (f"{label}: {_mb(-change)} less than the base"
                       f"{_percent_text(change_percent)}" if change < 0 else
                       f"{label}: the same as the base")
        return row
    said = f"{label}: {_mb(change)} more than the base{_percent_text(change_percent)}"
    if change_percent is None:
        said += f" (the base's was {_mb(first)})"
    if not more:
        row["text"] = f"{said}, within the noise of ±{_mb(beyond)}"
    elif not large:
        row["text"] = f"{said}, beyond the noise of ±{_mb(beyond)} but not more than {percent:g} %"
    else:
        row["text"] = f"{said}, beyond the noise of ±{_mb(beyond)}"
    return row


def _rate(leak: dict[str, Any]) -> tuple[float, float, float] | None:
    """A leak verdict's rate and the bounds of its interval (MB/min), if it has them."""
    rate, interval = leak.get("slope_mb_per_min"), leak.get("slope_ci_mb_per_min")
    if not isinstance(rate, (int, float)) or not isinstance(interval, list) or \
            len(interval) != 2 or not all(isinstance(v, (int, float)) for v in interval):
        return None
    return float(rate), float(interval[0]), float(interval[1])


def _gate_leak(base: dict[str, Any], new: dict[str, Any], percent: float) -> dict[str, Any]:
    leaks = [(r.get("memory") or {}).get("leak") or {} for r in (base, new)]
    row: dict[str, Any] = {"figure": LEAK_RATE, "unit": "MB/min", "change": None,
                           "change_percent": None, "verdict_new": leaks[1].get("verdict"),
                           "regressed": False}
    row.update({name: leak.get("slope_mb_per_min") for name, leak in zip(
        ("base", "new"), leaks, strict=True)})
    row.update({f"interval_{name}": leak.get("slope_ci_mb_per_min") for name, leak in zip(
        ("base", "new"), leaks, strict=True)})
    first, second = (_rate(leak) for leak in leaks)
    if first is None or second is None:
        missing = [name for name, figure in (("base", first), ("new", second))
                   if figure is None]
        row["text"] = (f"{LEAK_RATE}: no trend measured in the {' and '.join(missing)} run, "
                       "not compared")
        return row
    (base_rate, base_low, base_high), (new_rate, new_low, new_high) = first, second
    change = round(new_rate - base_rate, 3)
    measurable = base_low > 0
    change_percent = shown(change * 100.0 / base_rate, 1) if measurable else None
    beyond = new_low > base_high
    large = (change_percent > percent) if change_percent is not None else \
        leaks[1].get("verdict") == "leak"
    row.update(change=change, change_percent=change_percent, regressed=beyond and large)
    said = (f"{LEAK_RATE}: {new_rate:+,.3f} MB/min against the base's {base_rate:+,.3f}"
            f"{_percent_text(change_percent)}; 95 % intervals {new_low:+,.3f} to "
            f"{new_high:+,.3f} and {base_low:+,.3f} to {base_high:+,.3f}")
    if not beyond:
        row["text"] = f"{said}: they overlap, within the noise"
    elif change_percent is not None and not large:
        row["text"] = f"{said}: apart, but not more than {percent:g} % faster"
    elif change_percent is None and not large:
        row["text"] = (f"{said}: apart, but the base grew by nothing measurable and the new "
                       f"run does not call it a leak ({leaks[1].get('verdict')})")
    elif change_percent is None:
        row["text"] = f"{said}: the base grew by nothing measurable, the new run leaks"
    else:
        row["text"] = f"{said}: faster, beyond the noise"
    return row


def regression_gate(base: dict[str, Any], new: dict[str, Any], percent: float,
                    base_samples: list[dict[str, Any]] | None = None,
                    new_samples: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Whether ``new``'s peak, held memory or leak rate is worse than ``base``'s by more
    than ``percent`` % and more than the two runs' noise (rule: ``thresholds.py``); each
    figure with the sentence about it, notes on incomplete runs, and a verdict line."""
    percent = check_regression_percent(percent)
    noise = [figure_noise_mb(r, s or []) for r, s in ((base, base_samples), (new, new_samples))]
    rows = [_gate_mb(label, key, base, new, (noise[0][label], noise[1][label]), percent)
            for label, key in GATED_MB]
    rows.append(_gate_leak(base, new, percent))
    notes = []
    for name, report in (("base", base), ("new", new)):
        if report.get("complete") is not True:
            notes.append(f"the {name} run did not complete (end reason: "
                         f"{report.get('end_reason') or 'unknown'}): compared on what it "
                         "measured, which may miss memory it never reached")
    worse = [row["figure"] for row in rows if row["regressed"]]
    # A run OOM-killed in the limit it was rehearsed in (complete: that is its answer)
    # had its peak capped by the limit: the kill is the regression, whatever the figures.
    killed = [report.get("end_reason") == "oom_killed" for report in (base, new)]
    if killed[1] and not killed[0]:
        worse.insert(0, "an OOM kill in its memory limit")
        notes.append("the new run was OOM-killed in its memory limit, the base was not: its "
                     "peak was capped by the limit, so its figures understate it")
    if worse:
        verdict = (f"memory regression: {', '.join(worse)} worse than the base by more than "
                   f"{percent:g} % and beyond the noise")
    else:
        verdict = (f"no memory regression: no figure worse than the base by more than "
                   f"{percent:g} % and beyond the noise")
    return {"fail_on_regression_percent": percent, "regressed": bool(worse),
            "worse": worse, "figures": rows, "notes": notes, "verdict": verdict}
