"""Two runs side by side (``memory_analysis_runner.py compare A B``): each figure of
both, the change from A to B, and which run had the bigger peak. Pure: two
comprehensive reports in, plain data out."""

from __future__ import annotations

from typing import Any

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
