"""Baseline, peak, growth, cooldown end and recovery of service memory."""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.series import ATTRIBUTE, MemorySeries
from memory_analysis.analysis.stats import mad, median
from memory_analysis.analysis.thresholds import (
    COOLDOWN_END_SHARE,
    MIN_TREND_POINTS,
    NEGLIGIBLE_GROWTH_MB,
    NEGLIGIBLE_GROWTH_SHARE,
    NOISE_SIGMAS,
)


def baseline_mb(series: MemorySeries) -> float | None:
    """Median of the baseline phase; the first point when there was no baseline."""
    _, values = series.points("baseline")
    if values:
        return median(values)
    return series.mb[0] if series.mb else None


def cooldown_end_mb(series: MemorySeries) -> float | None:
    """Median of the last quarter (at least one point) of the last cooldown that ran
    long enough for a trend (a run stopped during a later cycle's load leaves only a
    few samples after the stop); None without a cooldown."""
    by_cycle: dict[int, list[float]] = {}
    for mb, phase, cycle in zip(series.mb, series.phase, series.cycle, strict=True):
        if phase == "cooldown":
            by_cycle.setdefault(cycle, []).append(mb)
    if not by_cycle:
        return None
    full = [c for c, values in by_cycle.items() if len(values) >= MIN_TREND_POINTS]
    values = by_cycle[max(full) if full else max(by_cycle)]
    tail = values[-max(1, round(len(values) * COOLDOWN_END_SHARE)):]
    return median(tail)


def noise_floor_mb(series: MemorySeries, baseline: float) -> float:
    """Smallest growth of the service that counts (``noise_floor_of`` its baseline)."""
    _, values = series.points("baseline")
    return noise_floor_of(values, baseline)


def noise_floor_of(baseline_values: list[float], baseline: float) -> float:
    """Smallest growth that counts: 2 MB, 2 % of the baseline, or 3 robust standard
    deviations of the baseline's own wobble, whichever is largest (for the service, or
    for one of its processes)."""
    wobble = mad(baseline_values) or 0.0
    return max(NEGLIGIBLE_GROWTH_MB, NEGLIGIBLE_GROWTH_SHARE * baseline, NOISE_SIGMAS * wobble)


def recovery(peak: float, baseline: float, cooldown_end: float | None,
             noise_mb: float) -> tuple[float | None, str]:
    """Recovery % = (peak − cooldown end) / (peak − baseline), clamped to 0-100, and why.

    ``peak`` is the highest *sampled* figure: a spike only the kernel's high-water mark
    saw between two samples raises the peak used for sizing, not the growth that had to
    come back (the samples never showed it, so they cannot show it go).
    100 % when growth is under ``noise_mb``: nothing grew, so nothing had to come back.
    None without a cooldown, as there is nothing to measure recovery on.
    """
    growth = peak - baseline
    if growth < noise_mb:
        return 100.0, (f"growth {growth:.1f} MB is under the {noise_mb:.1f} MB noise floor: "
                       "nothing to recover, counted as 100 %")
    if cooldown_end is None:
        return None, "no cooldown samples: recovery not measured"
    percent = min(max((peak - cooldown_end) / growth * 100.0, 0.0), 100.0)
    return percent, (f"{peak - cooldown_end:.1f} MB of the {growth:.1f} MB growth came back "
                     "by the end of the cooldown")


def memory_block(series: MemorySeries) -> dict[str, Any]:
    """The report's ``memory`` figures (without ``leak``, which ``leak.py`` adds)."""
    if not series.mb:
        return {"metric": series.metric, "baseline_mb": None, "peak_mb": None,
                "growth_mb": None, "cooldown_end_mb": None, "recovery_percent": None,
                "recovery_note": "service memory was not observed",
                "peak_system_percent": None, "system_percent_source": series.system_source}
    base = baseline_mb(series)
    assert base is not None
    # The --attribute stretches (each endpoint alone) are not the load sized for; what
    # they kept is in the cooldown after them.
    sampled_peak = max((mb for mb, phase in zip(series.mb, series.phase, strict=True)
                        if phase != ATTRIBUTE), default=max(series.mb))
    peak = sampled_peak + series.unsampled_peak_mb
    end = cooldown_end_mb(series)
    noise = noise_floor_mb(series, base)
    recovered, note = recovery(sampled_peak, base, end, noise)
    if peak > sampled_peak:
        note += (f"; recovery is measured from the sampled peak ({sampled_peak:.1f} MB), the "
                 f"kernel's high-water mark ({peak:.1f} MB) raises only the peak sizing uses")
    system = [p for p in series.system_percent if p is not None]
    block: dict[str, Any] = {
        "metric": series.metric,
        "baseline_mb": round(base, 2),
        "peak_mb": round(peak, 2),
        "growth_mb": round(peak - base, 2),
        "cooldown_end_mb": None if end is None else round(end, 2),
        "recovery_percent": None if recovered is None else round(recovered, 1),
        "recovery_note": note,
        "peak_system_percent": round(max(system), 2) if system else None,
        "system_percent_source": series.system_source,
        "sampled_peak_mb": round(sampled_peak, 2),
        "noise_floor_mb": round(noise, 2),
        "held_mb": None if end is None else round(end - base, 2),
        "growth_negligible": sampled_peak - base < noise,
    }
    if series.peak_note:
        block["peak_note"] = series.peak_note
    return block
