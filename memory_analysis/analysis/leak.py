"""Leak verdict: memory that keeps growing, told apart from a cache that fills and stays.

The evidence is the trend of service memory over the later half of the load phase
(by then a cache or pool has usually warmed up) and what the cooldown does with it:

- flat late in the load: warmed up, not a leak, however high it stays afterwards
  (a full cache, or freed memory that pymalloc and glibc keep for reuse);
- growing late in the load but slowing to a stop: still warming up;
- growing late in the load and given back in the cooldown: memory that scales with the
  load in flight (buffers, queues), not a leak;
- growing late in the load and kept through the cooldown, or growing with no load at
  all: suspected leak.

The trend is a Theil–Sen line (median of pairwise slopes), so a GC pause or one odd
sample does not make or hide a leak; R² of a least-squares fit says how straight the
growth is, which feeds the confidence.
"""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.series import MemorySeries
from memory_analysis.analysis.stats import linear_fit, mad, median, theil_sen

LATE_SHARE = 0.5  # the trend window starts halfway through the load phase
MIN_POINTS = 6
# Growth in the window's second half below this share of its first half's: slowing to a
# stop, as warm-up does.
SLOWING_RATIO = 0.5
# Given back in the cooldown: more than this share of the late growth.
RELEASED_SHARE = 0.5
MB = 1024 * 1024


def _verdict(suspected: bool, confidence: str, reason: str, **figures: Any) -> dict[str, Any]:
    return {"suspected": suspected, "slope_mb_per_min": figures.pop("slope_mb_per_min", 0.0),
            "bytes_per_request": figures.pop("bytes_per_request", None),
            "confidence": confidence, "reason": reason, **figures}


def _window(ts: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    cut = ts[0] + LATE_SHARE * (ts[-1] - ts[0])
    index = [i for i, t in enumerate(ts) if t >= cut]
    if len(index) < MIN_POINTS:
        index = list(range(max(0, len(ts) - MIN_POINTS), len(ts)))
    return [ts[i] for i in index], [values[i] for i in index]


def _slope(ts: list[float], values: list[float]) -> float:
    fit = theil_sen(ts, values)
    return fit[0] if fit else 0.0


def requests_between(timeline: list[dict[str, Any]], start_s: float, end_s: float) -> float:
    """Requests sent between ``start_s`` and ``end_s`` (seconds since the load started),
    from the load tester's per-second timeline (``t`` = end of each second), sharing a
    second's count pro rata when the window cuts it."""
    total = 0.0
    for second in timeline:
        low, high = second["t"] - 1, second["t"]
        overlap = min(high, end_s) - max(low, start_s)
        if overlap > 0:
            total += second.get("requests", 0) * overlap
    return total


def bytes_per_request(slope_mb_per_s: float, requests: int | None,
                      load_duration_s: float | None) -> int | None:
    """Bytes kept per request: growth rate over request rate; None when either is unknown."""
    if not requests or not load_duration_s or load_duration_s <= 0:
        return None
    rate = requests / load_duration_s
    return max(0, round(slope_mb_per_s * MB / rate))


def leak_verdict(series: MemorySeries, requests: int | None = None,
                 load_duration_s: float | None = None, noise_mb: float = 2.0,
                 timeline: list[dict[str, Any]] | None = None,
                 load_start_t: float | None = None) -> dict[str, Any]:
    """The report's ``memory.leak`` block.

    Bytes kept per request divide the growth rate by the request rate: the rate inside
    the trend window when the load tester's ``timeline`` and the load's start
    (``load_start_t``, on the samples' clock) are given, as load often ramps up while
    caches warm; otherwise ``requests`` over ``load_duration_s``. ``noise_mb``: smallest
    growth that counts (see ``memory.noise_floor_mb``).
    """
    load_t, load_mb = series.points("load")
    if len(load_t) < MIN_POINTS:
        return _verdict(False, "none", f"only {len(load_t)} samples in the load phase: too few "
                        "to judge a trend")
    win_t, win_mb = _window(load_t, load_mb)
    slope, intercept = theil_sen(win_t, win_mb) or (0.0, win_mb[-1])
    fit = linear_fit(win_t, win_mb)
    r2 = fit[2] if fit else 0.0
    residuals = [y - (intercept + slope * t) for t, y in zip(win_t, win_mb, strict=True)]
    jitter = mad(residuals) or 0.0
    threshold = max(noise_mb, 2 * jitter)
    span_s = win_t[-1] - win_t[0]
    late_growth = slope * span_s
    per_request = bytes_per_request(slope, requests, load_duration_s)
    if timeline and load_start_t is not None and span_s > 0:
        in_window = requests_between(timeline, win_t[0] - load_start_t, win_t[-1] - load_start_t)
        if in_window >= 1:
            per_request = bytes_per_request(slope, round(in_window), span_s)
    figures: dict[str, Any] = {
        "slope_mb_per_min": round(slope * 60, 3), "bytes_per_request": per_request,
        "r_squared": round(r2, 3), "late_growth_mb": round(late_growth, 2),
        "threshold_mb": round(threshold, 2), "window_start_t": round(win_t[0], 3),
        "window_end_t": round(win_t[-1], 3), "window_points": len(win_t),
    }
    cool_t, cool_mb = series.points("cooldown")
    cool_growth = None
    if len(cool_t) >= MIN_POINTS:
        cool_slope = _slope(cool_t, cool_mb)
        cool_growth = cool_slope * (cool_t[-1] - cool_t[0])
        figures["cooldown_slope_mb_per_min"] = round(cool_slope * 60, 3)
    late_rate = f"{slope * 60:+.2f} MB/min"

    if cool_growth is not None and cool_growth > threshold:
        return _verdict(True, "medium" if len(cool_t) >= 20 else "low",
                        f"memory kept growing with no load: +{cool_growth:.1f} MB during the "
                        "cooldown; something allocates on its own (a timer, a background task, "
                        "a queue that is never drained)", **figures)

    if late_growth <= threshold:
        confidence = "high" if len(win_t) >= 20 else "medium" if len(win_t) >= 10 else "low"
        early = load_mb[0]
        rose = win_mb[0] - early
        shape = (f"it rose {rose:.1f} MB early in the load and then levelled off, as a cache "
                 "or pool that has warmed up does" if rose > threshold else
                 "it did not trend upward")
        return _verdict(False, confidence,
                        f"flat in the later half of the load phase ({late_rate}, "
                        f"{late_growth:+.1f} MB, within the {threshold:.1f} MB noise): {shape}; "
                        "memory held at that level afterwards is retained, not leaked",
                        **figures)

    half = len(win_t) // 2
    first, second = _slope(win_t[:half + 1], win_mb[:half + 1]), _slope(win_t[half:], win_mb[half:])
    if first > 0 and second < SLOWING_RATIO * first:
        return _verdict(False, "low",
                        f"grew {late_growth:.1f} MB in the later half of the load but slowed "
                        f"from {first * 60:.2f} to {second * 60:.2f} MB/min: still warming up "
                        "(a cache filling); a longer load phase would show it level off",
                        **figures)

    if cool_t:
        tail = cool_mb[-max(1, len(cool_mb) // 4):]
        end = median(tail)
        assert end is not None
        released = (intercept + slope * win_t[-1]) - end
        figures["released_in_cooldown_mb"] = round(released, 2)
        if released > RELEASED_SHARE * late_growth:
            return _verdict(False, "medium",
                            f"grew {late_growth:.1f} MB late in the load ({late_rate}) but "
                            f"{released:.1f} MB came back in the cooldown: memory that scales "
                            "with the load in flight, not a leak", **figures)

    straight = r2 >= 0.8
    if straight and len(win_t) >= 20 and late_growth >= 3 * threshold:
        confidence = "high"
    elif r2 >= 0.5 and len(win_t) >= 10:
        confidence = "medium"
    else:
        confidence = "low"
    if not cool_t and confidence == "high":
        confidence = "medium"  # without a cooldown nobody saw whether it came back
    kept = (f", about {per_request / 1024:.1f} KB kept per request"
            if per_request is not None else "")
    after = ("and was not given back in the cooldown" if cool_t else
             "(no cooldown was observed to see whether it comes back)")
    return _verdict(True, confidence,
                    f"kept growing through the later half of the load phase ({late_rate}, "
                    f"+{late_growth:.1f} MB, R² {r2:.2f}) {after}{kept}", **figures)
