"""Leak verdict: memory that keeps growing after warm-up, with how sure the run can be.

Memory that stays high after a load is not a leak: a cache that filled keeps its
entries, and CPython's and glibc's allocators keep freed memory for reuse. A leak keeps
growing once the warm-up has levelled off. So the verdict trends service memory over
the load and the cooldown, past each stretch's warm-up (``shape.settle``), comparing
only samples taken under the same load (each user step, and every cycle's load, against
its own kind; cooldowns against cooldowns), and asks three questions of that trend:

1. Is it growing? Only on strong evidence: the lower bound of Sen's interval at
   ``LEAK_ALPHA`` must be above zero.
2. If not, could the run have seen a leak worth caring about (one that would use up the
   headroom of the memory the service gets within ``WORTH_CARING_HORIZON_H``)? Only
   then is the answer "no leak"; otherwise "too short to tell", with the run length that
   would tell. Every verdict states the run's detection limit: the growth it finds 95 %
   of the time.
3. Does the growth follow the requests or the clock? Growth that stops in the cooldown
   follows the requests (then bytes kept per request are stated); growth that goes on
   without load follows time (a timer, a background task) and is stated per minute.

Growth that came back in the cooldown followed the load (a backlog, buffers), and is
not a leak. A warm-up that had not levelled off by the end of the load cannot be told
from a leak: too short to tell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from memory_analysis.analysis.series import MemorySeries, Stretch
from memory_analysis.analysis.shape import Settled, growth_beyond_slow_warmup, settle
from memory_analysis.analysis.stats import linear_fit, median
from memory_analysis.analysis.thresholds import (
    DETECTION_POWER,
    LEAK_ALPHA,
    MIN_LEAK_GROWTH_MB,
    MIN_TREND_POINTS,
    NO_LEAK_ALPHA,
    RELEASED_SHARE,
    SLOWING_RATIO,
    WARMUP_ALPHA,
    WORTH_CARING_HORIZON_H,
    shown,
    t_quantile,
    z_one_sided,
)
from memory_analysis.analysis.trend import (
    Block,
    Trend,
    level_se,
    margin,
    marginal_variance,
    sen_trend,
)

MB = 1024 * 1024
# Samples that tell where memory stood when the load stopped.
END_SAMPLES = 3


@dataclass(frozen=True)
class LoadSegment:
    """One run of the load tester on the samples' clock: when it sent requests, how
    many, and (optionally) its per-second rows (``t`` = end of each second since start)."""

    start_t: float
    end_t: float
    requests: int
    timeline: list[dict[str, Any]] | None = None


def requests_between(timeline: list[dict[str, Any]], start_s: float, end_s: float) -> float:
    """Requests sent between ``start_s`` and ``end_s`` (seconds since the load started),
    from the load tester's per-second rows, sharing a second's count pro rata when the
    window cuts it."""
    total = 0.0
    for second in timeline:
        low, high = second["t"] - 1, second["t"]
        overlap = min(high, end_s) - max(low, start_s)
        if overlap > 0:
            total += second.get("requests", 0) * overlap
    return total


def requests_by(t: float, segments: list[LoadSegment]) -> float:
    """Requests sent before time ``t`` (samples' clock), over every load segment."""
    total = 0.0
    for segment in segments:
        if t <= segment.start_t:
            continue
        if segment.timeline:
            total += requests_between(segment.timeline, 0.0, t - segment.start_t)
        else:
            span = segment.end_t - segment.start_t
            share = 1.0 if span <= 0 else min(1.0, (t - segment.start_t) / span)
            total += segment.requests * share
    return total


def worth_caring_mb_per_min(ceiling_mb: float | None, peak_mb: float | None) -> float | None:
    """The slowest leak worth caring about: one that would use up the headroom between
    the peak and ``ceiling_mb`` within ``WORTH_CARING_HORIZON_H``. The ceiling is the
    memory the service gets when that is known (a cgroup limit, the user's target or
    plan), else the memory it would be deployed with (the smallest plan holding the
    recommended memory)."""
    if peak_mb is None or ceiling_mb is None:
        return None
    return max(ceiling_mb - peak_mb, 0.0) / (WORTH_CARING_HORIZON_H * 60.0)


@dataclass
class _Evidence:
    """The settled stretches and the trends taken over them."""

    series: MemorySeries
    settled: list[tuple[Stretch, Settled]] = field(default_factory=list)
    pooled: Trend | None = None
    load: Trend | None = None
    cooldown: Trend | None = None
    beyond_warmup: Trend | None = None
    per_request: Trend | None = None

    def blocks(self, phase: str | None = None) -> list[Block]:
        """One block per stretch of steady load (pairs only within it): samples are
        compared only with samples under the same load and the same run of it. Levels
        of different stretches (steps, cycles) are never compared by the trend, whose
        uncertainty is that of the noise within stretches; cycles are compared by
        where each one ended (``_cycles``)."""
        return [Block(list(p.t), list(p.mb)) for s, p in self.settled
                if phase is None or s.phase == phase]


def settle_series(series: MemorySeries) -> list[tuple[Stretch, Settled]]:
    """Each load and cooldown stretch settled (``shape.settle``); with several cycles, a
    stretch whose warm-up never finished is left out when a later cycle's stretch at the
    same load did settle (that one, already warm, speaks for it: growth in the first
    cycle only is a plateau)."""
    settled = [(s, settle(s.t, s.mb)) for s in series.stretches()
               if len(s.t) >= MIN_TREND_POINTS]
    settled = [(s, p) for s, p in settled if len(p.t) >= MIN_TREND_POINTS // 2]
    kept = []
    for stretch, points in settled:
        later = [p for s, p in settled if (s.phase, s.users) == (stretch.phase, stretch.users)
                 and s.cycle > stretch.cycle]
        if points.unfinished_warmup and any(not p.unfinished_warmup for p in later):
            continue
        kept.append((stretch, points))
    return kept


def _per_request_blocks(evidence: _Evidence, segments: list[LoadSegment]) -> list[Block]:
    """Load blocks with x = requests sent so far instead of seconds."""
    blocks = []
    for block in evidence.blocks("load"):
        x = [requests_by(t, segments) for t in block.x]
        blocks.append(Block(x, list(block.y), block.starts))
    return blocks


def _per_min(value: float | None) -> float | None:
    return None if value is None else value * 60.0


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def not_judged(reason: str, confidence: str = "none") -> dict[str, Any]:
    return {"suspected": False, "verdict": "not judged", "slope_mb_per_min": None,
            "slope_ci_mb_per_min": None, "detection_limit_mb_per_min": None,
            "worth_caring_mb_per_min": None, "time_to_limit_h": None,
            "bytes_per_request": None, "follows": None, "confidence": confidence,
            "reason": reason}


def kept_text(bytes_per_request: int) -> str:
    """"about 16,384 bytes (16.0 KB) kept per request"."""
    return (f"about {bytes_per_request:,} bytes ({bytes_per_request / 1024:.1f} KB) kept per "
            "request")


def rate_text(mb_per_min: float) -> str:
    """A growth rate as text, in MB/min as the report gives it, precise enough for
    slow growth."""
    if abs(mb_per_min) < 1:
        return f"{mb_per_min:.3f} MB/min"
    return f"{mb_per_min:.2f} MB/min" if abs(mb_per_min) < 10 else f"{mb_per_min:,.0f} MB/min"


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{max(hours * 60, 1):.0f} min"
    return f"{hours:.1f} h" if hours < 10 else f"{hours:,.0f} h"


def _last_stretch(evidence: _Evidence, phase: str) -> tuple[Stretch, Settled] | None:
    found = [(s, p) for s, p in evidence.settled if s.phase == phase]
    return found[-1] if found else None


def _released(evidence: _Evidence, slope: float) -> tuple[float, float, float] | None:
    """(MB given back in the last cooldown, MB grown over the last load stretch, the
    standard error of what was given back)."""
    load = _last_stretch(evidence, "load")
    cool = _last_stretch(evidence, "cooldown")
    if load is None or cool is None or cool[0].t[0] < load[0].t[-1]:
        return None
    points = load[1]
    # The load's level as memory stood when it stopped (its last samples, before any
    # warm-up was taken out; the rate of growth may have changed over the stretch, so no
    # line is extended to it), and the level the cooldown settles to (its release, like a
    # warm-up, taken out).
    tail = points.raw[-END_SAMPLES:]
    end_level = sum(tail) / len(tail)
    cool_level = sum(cool[1].mb) / len(cool[1].mb)
    fit = linear_fit(points.t, points.raw)
    residuals = ([y - fit[1] - fit[0] * t for t, y in zip(points.t, points.raw, strict=True)]
                 if fit else [0.0])
    # The end level rests on a few neighbouring samples: as uncertain as one sample.
    se = math.hypot(math.sqrt(marginal_variance(residuals)), level_se(cool[1].mb))
    return end_level - cool_level, slope * (points.t[-1] - points.t[0]), se


def _cycles(series: MemorySeries) -> list[dict[str, Any]]:
    """Per cycle: where memory stood at the end of its load and of its cooldown."""
    out: dict[int, dict[str, Any]] = {}
    for stretch in series.stretches():
        entry = out.setdefault(stretch.cycle, {"cycle": stretch.cycle})
        tail = stretch.mb[-max(1, len(stretch.mb) // 4):]
        entry[f"{stretch.phase}_end_mb"] = round(median(tail) or 0.0, 2)
    cycles = [out[k] for k in sorted(out)]
    previous = None
    for entry in cycles:
        end = entry.get("cooldown_end_mb", entry.get("load_end_mb"))
        entry["growth_mb"] = None if previous is None or end is None else round(end - previous, 2)
        previous = end
    return cycles


def leak_verdict(series: MemorySeries, segments: list[LoadSegment] | None = None,
                 worth_caring: float | None = None, limit_mb: float | None = None,
                 peak_mb: float | None = None,
                 settled: list[tuple[Stretch, Settled]] | None = None) -> dict[str, Any]:
    """The report's ``memory.leak`` block.

    ``segments``: the load tester's runs on the samples' clock, to count requests (bytes
    kept per request); ``worth_caring``: the slowest leak worth caring about, MB/min
    (``worth_caring_mb_per_min``); ``limit_mb`` and ``peak_mb``: the memory the service
    is judged against and its peak, to project a leak to the hours until it is reached;
    ``settled``: ``settle_series(series)`` when the caller has it already.
    """
    evidence = _Evidence(series, settled if settled is not None else settle_series(series))
    if not any(s.phase == "load" for s, _ in evidence.settled):
        load_points = sum(1 for p in series.phase if p == "load")
        return not_judged(f"no stretch of steady load had {MIN_TREND_POINTS} samples or more "
                          f"({load_points} load samples in all): too few to judge a trend")
    evidence.pooled = sen_trend(evidence.blocks())
    evidence.load = sen_trend(evidence.blocks("load"))
    evidence.cooldown = sen_trend(evidence.blocks("cooldown"))
    evidence.beyond_warmup = _beyond_warmup(evidence)
    if evidence.pooled is None or evidence.load is None:
        return not_judged("the load phase's samples hold no trend")
    return _judge(evidence, segments or [], worth_caring, limit_mb, peak_mb)


def _judge(evidence: _Evidence, segments: list[LoadSegment], worth_caring: float | None,
           limit_mb: float | None, peak_mb: float | None) -> dict[str, Any]:
    pooled, load, cool = evidence.pooled, evidence.load, evidence.cooldown
    assert pooled is not None and load is not None
    detection = _detection_limit(pooled)
    figures: dict[str, Any] = {
        "detection_limit_mb_per_min": _round(detection),
        "worth_caring_mb_per_min": _round(worth_caring),
        "window_start_t": round(min(p.t[0] for _, p in evidence.settled), 3),
        "window_end_t": round(max(p.t[-1] for _, p in evidence.settled), 3),
        "window_points": pooled.n,
        "independent_points": round(pooled.n_eff, 1),
        "load_slope_mb_per_min": _round(_per_min(load.slope)),
        "cooldown_slope_mb_per_min": _round(_per_min(cool.slope)) if cool else None,
    }
    figures["trend_lines"] = _trend_lines(evidence, pooled)
    sawtooth = [p for _, p in evidence.settled if p.releases]
    if sawtooth:
        periods = [p.period_s for p in sawtooth if p.period_s]
        figures["periodic_release"] = {"stretches": len(sawtooth),
                                       "period_s": _round(median(periods), 2) if periods else None}
    warmups = [(s, p.warmup) for s, p in evidence.settled if p.warmup and s.phase == "load"]
    if warmups:
        first = warmups[0][1]
        assert first is not None
        figures["warmup"] = {"rise_mb": round(first.rise_mb, 2), "tau_s": round(first.tau_s, 1),
                             "over_after_s": round(first.over_s, 1), "finished": first.finished}
    cycles = _cycles(evidence.series)
    if len(cycles) > 1:
        figures["cycles"] = cycles

    # Any leak grows under load (one that follows time grows all the time): growth seen
    # only in a cooldown, with the load's own trend falling, is the noise of a short stretch.
    growing = pooled.bound(LEAK_ALPHA, upper=False) > 0 and load.slope > 0
    span = figures["window_end_t"] - figures["window_start_t"]
    upper = pooled.bound(NO_LEAK_ALPHA, upper=True)
    unfinished = any(s.phase == "load" and p.unfinished_warmup for s, p in evidence.settled)
    figures["growing"] = growing
    # "No leak" only when the run could have seen a leak worth caring about.
    ruled_out = (worth_caring is not None and upper * 60.0 < worth_caring
                 and detection <= worth_caring and not unfinished)
    if growing and pooled.slope * span >= MIN_LEAK_GROWTH_MB:
        if unfinished or _slowing(evidence) or _faint_warmup(evidence):
            return _too_short(evidence, figures, detection, worth_caring, warming=True)
        return _leak(evidence, segments, figures, limit_mb, peak_mb)
    # Growth that was seen is called too slow to matter only on the evidence a leak needs:
    # its bound at LEAK_ALPHA under the rate worth caring about, and under an arena.
    strong_upper = pooled.bound(LEAK_ALPHA, upper=True)
    too_slow = (ruled_out and worth_caring is not None and strong_upper * 60.0 < worth_caring
                and strong_upper * span < MIN_LEAK_GROWTH_MB)
    if growing and not too_slow:
        return _too_short(evidence, figures, detection, worth_caring, warming=unfinished,
                          creeping=True)
    if ruled_out:
        assert worth_caring is not None
        return _no_leak(evidence, figures, detection, worth_caring, growing)
    return _too_short(evidence, figures, detection, worth_caring, warming=unfinished)


def _clearly_slower(first: Trend, second: Trend) -> bool:
    """``second`` grows at under ``SLOWING_RATIO`` of ``first``'s rate, clearly (at
    ``WARMUP_ALPHA``)."""
    dof = min(first.dof, second.dof)
    clearly = first.slope - second.slope > t_quantile(1.0 - WARMUP_ALPHA, dof) * math.hypot(
        first.se, second.se)
    return clearly and second.slope < SLOWING_RATIO * first.slope


def _slowing(evidence: _Evidence) -> bool:
    """Growth that slows down over the load, as a warm-up does and a leak under steady
    load does not: the later half of a load stretch grows clearly slower than its earlier
    half (a warm-up's rate falls by e^(−T/2τ) between the halves: under two thirds for a
    time constant up to 1.2 times the stretch), or, with cycles, the last cycle's load
    grows clearly slower than the first's (a warm-up longer than one cycle)."""
    for stretch, points in evidence.settled:
        if stretch.phase != "load" or len(points.t) < 2 * MIN_TREND_POINTS:
            continue
        middle = (points.t[0] + points.t[-1]) / 2.0
        # Before the fitted warm-up is taken out: a warm-up slower than the fit can
        # follow leaves its slowing there.
        halves = [[(t, y) for t, y in zip(points.t, points.raw, strict=True)
                   if (t < middle) == k] for k in (True, False)]
        first, second = (sen_trend([Block([t for t, _ in h], [y for _, y in h])]) for h in halves)
        if first is not None and second is not None and _clearly_slower(first, second):
            return True
    cycles = sorted({s.cycle for s, _ in evidence.settled if s.phase == "load"})
    if len(cycles) >= 2:
        first, last = (sen_trend([Block(list(p.t), list(p.raw)) for s, p in evidence.settled
                                  if s.phase == "load" and s.cycle == c])
                       for c in (cycles[0], cycles[-1]))
        if first is not None and last is not None and _clearly_slower(first, last):
            return True
    return False


def _beyond_warmup(evidence: _Evidence) -> Trend | None:
    """The load stretches' growth once the slowest warm-up that levels off within each
    is allowed for (``growth_beyond_slow_warmup``), combined by inverse variance."""
    weights, total, n, n_eff, worst, fitted = 0.0, 0.0, 0, 0.0, 0.0, 0
    for stretch, points in evidence.settled:
        if stretch.phase != "load":
            continue
        fit = growth_beyond_slow_warmup(points.t, points.mb)
        if fit is None or fit[1] <= 0:
            continue
        growth, se, independent, se_worst = fit
        weight = 1.0 / se ** 2
        weights += weight
        total += growth * weight
        worst += weight * se_worst  # the worst case adds up, as correlations may
        n += len(points.t)
        n_eff += independent
        fitted += 3
    if weights == 0:
        return None
    return Trend(slope=total / weights, se=math.sqrt(1.0 / weights), n=n, n_eff=n_eff,
                 dof=max(n_eff - fitted, 1.0), se_worst=worst / weights)


def _faint_warmup(evidence: _Evidence) -> bool:
    """True when a warm-up that levels off within the load could account for the growth
    of the load stretches (the growth beyond it is not clearly above zero), and the
    cooldown does not show growth going on without requests, which no warm-up would."""
    cool = evidence.cooldown
    if cool is not None and cool.bound(LEAK_ALPHA, upper=False) > 0:
        return False
    beyond = evidence.beyond_warmup
    return beyond is not None and beyond.bound(LEAK_ALPHA, upper=False) <= 0


def _detection_limit(trend: Trend) -> float:
    """The growth (MB/min) the run's growth test finds 95 % of the time: its own bound at
    ``LEAK_ALPHA`` plus the same kind of margin at the power. Growth that fast cannot
    hide; whether it is then called a leak, or too short to tell (too little over the
    run, or a warm-up could account for it), the verdict says."""
    return (margin(LEAK_ALPHA, trend.se, trend.dof, trend.se_worst)
            + margin(1.0 - DETECTION_POWER, trend.se, trend.dof, trend.se_worst)) * 60.0


def _trend_lines(evidence: _Evidence, pooled: Trend,
                 phases: tuple[str, ...] = ("load", "cooldown")) -> list[dict[str, float]]:
    """A trend as drawn over each stretch (of ``phases``) it was fitted to: the
    stretch's own level (the median of its points less the slope), and the 95 % interval
    of the slope fanning out from the stretch's middle. For the charts."""
    low, high = pooled.interval(0.95)
    lines = []
    for stretch, points in evidence.settled:
        if len(points.t) < 2 or stretch.phase not in phases:
            continue
        level = median([mb - pooled.slope * t for t, mb in zip(points.t, points.mb,
                                                                strict=True)])
        if level is None:
            continue
        start, end = points.t[0], points.t[-1]
        middle_t = (start + end) / 2.0
        middle = level + pooled.slope * middle_t
        lines.append({"start_t": round(start, 3), "end_t": round(end, 3),
                      "start_mb": round(level + pooled.slope * start, 3),
                      "end_mb": round(level + pooled.slope * end, 3),
                      "low_start_mb": round(middle - low * (middle_t - start), 3),
                      "low_end_mb": round(middle + low * (end - middle_t), 3),
                      "high_start_mb": round(middle - high * (middle_t - start), 3),
                      "high_end_mb": round(middle + high * (end - middle_t), 3)})
    return lines


def _interval(trend: Trend) -> list[float]:
    low, high = trend.interval(0.95)
    return [round(low * 60.0, 3), round(high * 60.0, 3)]


def _leak(evidence: _Evidence, segments: list[LoadSegment], figures: dict[str, Any],
          limit_mb: float | None, peak_mb: float | None) -> dict[str, Any]:
    pooled, load, cool = evidence.pooled, evidence.load, evidence.cooldown
    assert pooled is not None and load is not None
    released = _released(evidence, load.slope)
    if released is not None:
        given_back, grown, se = released
        figures["released_in_cooldown_mb"] = round(given_back, 2)
        # Halfway between "all kept" (a leak) and "all returned" (memory that follows the
        # load), and clearly on one side of it: dismissing growth that was seen takes the
        # evidence calling a leak takes (LEAK_ALPHA); keeping it, the usual 95 %.
        beyond = given_back - RELEASED_SHARE * grown
        if grown > 0 and beyond > z_one_sided(LEAK_ALPHA) * se:
            return {"suspected": False, "verdict": "no leak",
                    "slope_mb_per_min": _round(load.slope * 60), "slope_ci_mb_per_min":
                    _interval(load), "time_to_limit_h": None, "bytes_per_request": None,
                    "follows": "load", "confidence": "medium",
                    "reason": (f"grew {shown(grown, 1):.1f} MB during the load "
                               f"({rate_text(load.slope * 60)}) but {shown(given_back, 1):.1f} MB "
                               "of it came back in the cooldown: memory that follows the load "
                               "in flight (a backlog, buffers), not a leak"),
                    **figures}
        if grown > 0 and beyond > -z_one_sided(NO_LEAK_ALPHA) * se:
            return _too_short(evidence, figures, _detection_limit(pooled),
                              figures.get("worth_caring_mb_per_min"), warming=False,
                              returned=(grown, given_back))
    follows: str | None = None
    if cool is not None:
        # Growth under load that slows to under half its rate after it (the midpoint
        # between all of it going on and none) follows the requests, even if the
        # cooldown creeps up a little (a heap's last pages being touched, a sampler
        # inside the service); growth going on at its rate without load follows the clock.
        if (load.slope - cool.slope > z_one_sided(NO_LEAK_ALPHA) * math.hypot(load.se, cool.se)
                and cool.slope < RELEASED_SHARE * load.slope):
            follows = "requests"
        elif cool.bound(NO_LEAK_ALPHA, upper=False) > 0:
            follows = "time"
    trend = load if follows == "requests" else pooled
    slope = trend.slope * 60.0
    if follows == "requests":  # the load's trend, over the load it was fitted to
        figures["trend_lines"] = _trend_lines(evidence, load, phases=("load",))

    per_request = None
    if follows == "requests" and segments:
        evidence.per_request = sen_trend(_per_request_blocks(evidence, segments))
        if evidence.per_request is not None:
            per_request = max(0, round(evidence.per_request.slope * MB))
    hours = None
    if limit_mb is not None and peak_mb is not None and slope > 0:
        hours = max(limit_mb - peak_mb, 0.0) / slope / 60.0
    confidence = "high" if pooled.bound(LEAK_ALPHA / 10, upper=False) > 0 else "medium"
    if cool is None and confidence == "high":
        confidence = "medium"  # nobody saw whether it comes back
    low, high = _interval(trend)
    cycles = figures.get("cycles")
    if follows == "requests":
        kept = f", {kept_text(per_request)}" if per_request is not None else ""
        how = f"grew {rate_text(slope)} under load and stopped when the requests did{kept}"
    elif follows == "time":
        how = (f"grew {rate_text(slope)} and went on growing in the cooldown with no load: "
               "something allocates on its own (a timer, a background task, a queue never "
               "drained)")
    else:
        how = (f"grew {rate_text(slope)} past the warm-up and did not give it back"
               + ("" if cool is not None else " (no cooldown was observed to see whether "
                  "it comes back)"))
    if cycles:
        rises = [c["growth_mb"] for c in cycles[1:] if c.get("growth_mb") is not None]
        if rises and all(r > 0 for r in rises):
            how += "; every cycle ended higher than the one before (" + ", ".join(
                f"{r:+.1f} MB" for r in rises) + ")"
    reason = f"{how} (95 % interval {low:.2f} to {high:.2f} MB/min)"
    if hours is not None:
        reason += (f"; at this rate the {limit_mb:,.0f} MB it is judged against is reached in "
                   f"about {_hours(hours)}")
    return {"suspected": True, "verdict": "leak", "slope_mb_per_min": _round(slope),
            "slope_ci_mb_per_min": [low, high], "time_to_limit_h": _round(hours, 2),
            "bytes_per_request": per_request, "follows": follows, "confidence": confidence,
            "reason": reason, **figures}


def _no_leak(evidence: _Evidence, figures: dict[str, Any], detection: float,
             worth_caring: float, growing: bool) -> dict[str, Any]:
    pooled = evidence.pooled
    assert pooled is not None
    slope = pooled.slope * 60.0
    confidence = "high"
    horizon = f"{WORTH_CARING_HORIZON_H / 24:.0f} days"
    if growing:
        days = ""
        if slope > 0:
            # The headroom is what a leak of ``worth_caring`` uses up within the horizon.
            lasts = worth_caring * WORTH_CARING_HORIZON_H / slope / 24.0
            days = f"; at that rate the headroom would last about {lasts:.0f} days"
        what = (f"grows {rate_text(slope)}, too slowly to matter: less than "
                f"{MIN_LEAK_GROWTH_MB:g} MB over the run, and under the {rate_text(worth_caring)} "
                f"that would use up the headroom within {horizon}{days}")
    else:
        what = (f"no growth faster than {rate_text(max(detection, 0.0))} could hide in this run "
                f"(trend {rate_text(slope)}); a leak worth caring about would grow "
                f"{rate_text(worth_caring)} or more (using up the headroom within {horizon})")
    return {"suspected": False, "verdict": "no leak", "slope_mb_per_min": _round(slope),
            "slope_ci_mb_per_min": _interval(pooled), "time_to_limit_h": None,
            "bytes_per_request": None, "follows": None, "confidence": confidence,
            "reason": _shape_note(evidence) + what, **figures}


def _too_short(evidence: _Evidence, figures: dict[str, Any], detection: float,
               worth_caring: float | None, warming: bool, creeping: bool = False,
               returned: tuple[float, float] | None = None) -> dict[str, Any]:
    pooled = evidence.pooled
    assert pooled is not None
    span = figures["window_end_t"] - figures["window_start_t"]
    needed = None
    if worth_caring and detection > worth_caring and span > 0:
        # The trend's standard error falls as the run's length to the power 3/2 (n and
        # the spread of times both grow with it).
        factor = (detection / worth_caring) ** (2.0 / 3.0)
        needed = span * factor
        figures["run_needed_s"] = round(needed)
        figures["run_length_factor"] = round(factor, 2)
    if warming:
        why = ("memory was still rising and slowing down at the end of the load, as a "
               "cache or pool that is filling does; until it levels off a leak cannot be "
               "told from it: run a longer load phase, or --cycles 2")
    elif returned is not None:
        grown, given_back = returned
        why = (f"memory grew {shown(grown, 1):.1f} MB during the load and "
               f"{shown(given_back, 1):.1f} MB came back in the cooldown: whether it was kept "
               "(a leak) or follows the load in flight is within the noise; a longer load "
               "phase, or --cycles 2, would tell")
    elif creeping:
        why = (f"memory grew {rate_text(pooled.slope * 60)}, about "
               f"{pooled.slope * span:.1f} MB over the run: too little to tell a leak from a "
               "heap still being filled page by page; a longer load phase, or --cycles 2, "
               "would tell")
    elif not worth_caring:
        why = ("the peak already reached the memory the service is judged against, so any "
               "growth would matter and none can be ruled out; give it more memory first")
    else:
        why = (f"no growth faster than {rate_text(detection)} could hide in this run, but a leak "
               f"of {rate_text(worth_caring or 0.0)} would already use up the headroom within "
               f"{WORTH_CARING_HORIZON_H / 24:.0f} days")
        if needed is not None:
            why += (f"; about {math.ceil(needed / 60)} min of steady load and cooldown (this "
                    f"run trended {span / 60:.1f} min) would tell")
        else:
            why += "; a longer load phase would tell"
    figures["warming"] = warming
    return {"suspected": False, "verdict": "too short to tell",
            "slope_mb_per_min": _round(pooled.slope * 60), "slope_ci_mb_per_min": _interval(pooled),
            "time_to_limit_h": None, "bytes_per_request": None, "follows": None,
            "confidence": "low", "reason": why, **figures}


def _shape_note(evidence: _Evidence) -> str:
    notes = []
    warm = next((p.warmup for s, p in evidence.settled if s.phase == "load" and p.warmup), None)
    if warm is not None and warm.rise_mb > 0:
        notes.append(f"levelled off after warming up (time constant {warm.tau_s:.0f} s)")
    if any(p.releases for _, p in evidence.settled):
        notes.append("falls back to the same floor after each periodic release")
    return ("; ".join(notes) + ": ") if notes else ""
