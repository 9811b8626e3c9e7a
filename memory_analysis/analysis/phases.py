"""Per-phase figures: when each phase ran, how many samples, service memory and system %."""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.series import ATTRIBUTE, PHASES, MemorySeries


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _time_in(series: MemorySeries, index: list[int]) -> float:
    """Seconds spent in the phase: first to last sample of each run of it (a phase
    recurs with --cycles; the time between runs belongs to other phases)."""
    total, start = 0.0, None
    for k, i in enumerate(index):
        if start is None:
            start = i
        if k + 1 == len(index) or index[k + 1] != i + 1:
            total += series.t[i] - series.t[start]
            start = None
    return total


def phase_block(series: MemorySeries, phase: str) -> dict[str, Any]:
    """start_t, end_t (s since the monitor started), duration_s, samples, memory_mb and
    system_percent."""
    index = [i for i, p in enumerate(series.phase) if p == phase]
    memory = [series.mb[i] for i in index]
    system = [p for p in (series.system_percent[i] for i in index) if p is not None]
    low, high = (min(memory), max(memory)) if memory else (0.0, 0.0)
    # The mean of equal figures can round differently from them: it stays within them.
    mean = min(max(sum(memory) / len(memory), low), high) if memory else None
    return {
        "start_t": _round(series.t[index[0]], 3) if index else None,
        "end_t": _round(series.t[index[-1]], 3) if index else None,
        "duration_s": _round(_time_in(series, index), 3) if index else None,
        "samples": len(index),
        "memory_mb": {
            "min": _round(low) if memory else None,
            "mean": _round(mean),
            "max": _round(high) if memory else None,
            "last": _round(memory[-1]) if memory else None,
        },
        "system_percent": {
            "mean": _round(sum(system) / len(system)) if system else None,
            "max": _round(max(system)) if system else None,
        },
    }


def phase_stats(series: MemorySeries) -> dict[str, dict[str, Any]]:
    """The report's ``phases`` block: one entry per phase, empty phases with None figures;
    the --attribute stretches' own when there were any."""
    phases = [p for p in PHASES if p != "cooldown"]
    phases += [ATTRIBUTE] if ATTRIBUTE in series.phase else []  # after the load, before
    phases.append("cooldown")
    return {phase: phase_block(series, phase) for phase in phases}
