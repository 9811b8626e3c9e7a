"""Leak verdict: memory that keeps growing under steady load, with how sure the run can be.

Memory that stays high after a load is not a leak: a cache that filled keeps its
entries, and CPython's and glibc's allocators keep freed memory for reuse. Nor is growth
that keeps slowing and would stay within the memory the service gets. A leak is growth
that would use that memory up. So the verdict fits the load's memory whole with
competing shapes (``growth``: flat, linear, levelling off, slowing, a step; periodic
releases first reduced to the floor they fall back to, ``shape.troughs``), against what
drives it (requests served, so a request rate that sags on a busy machine is not a
warm-up levelling off), and asks where it is going: the growth every shape the data
allow projects over ``WORTH_CARING_HORIZON_H`` of the same load, against the headroom
between the peak and the memory the service gets.

- "leak": the growth was clear, and even the lowest projection (at ``LEAK_ALPHA``) uses
  the headroom up;
- "no leak": even the highest projection (at ``NO_LEAK_ALPHA``) stays within it;
- "too short to tell" otherwise, with what would tell: more of a periodic release's
  teeth, the step's settling, or the run length at which noise would no longer hide a
  leak worth caring about.

Either definite verdict needs ``MIN_INDEPENDENT_POINTS``; "high confidence" needs
``HIGH_CONFIDENCE_DOF`` and a bound ten times stricter. Growth that came back in the
cooldown followed the load (a backlog, buffers, a collector that had not run), and is
not a leak; growth that went on in the cooldown follows the clock (a timer), growth
that stopped with the load follows the requests (then the bytes kept per request are
stated).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from memory_analysis.analysis.growth import (
    BENDING,
    FAMILIES,
    LEAKS_BEHIND,
    STEPS,
    BoundErrors,
    Family,
    Noise,
    Points,
    Projection,
    ShapeFit,
    allowed,
    bound_errors,
    dof_of,
    fit_at,
    fit_shapes,
    hidden_line_high,
    linear_bound,
    plausible,
    project,
    shows_warmup,
)
from memory_analysis.analysis.memory import cooldown_end_mb
from memory_analysis.analysis.series import MemorySeries
from memory_analysis.analysis.shape import despike, troughs
from memory_analysis.analysis.stats import median, z_one_sided
from memory_analysis.analysis.thresholds import (
    DETECTION_POWER,
    HIGH_CONFIDENCE_DOF,
    LATE_SAMPLE_GAP,
    LATE_SAMPLES_SHARE,
    LEAK_ALPHA,
    LONGEST_RUN_FACTOR,
    MIN_INDEPENDENT_POINTS,
    MIN_LEAK_GROWTH_MB,
    MIN_TEETH,
    MIN_TREND_POINTS,
    NO_LEAK_ALPHA,
    RELEASED_SHARE,
    SHAPE_RUN_FACTOR,
    WARMUP_OVER_TIME_CONSTANTS,
    WORTH_CARING_HORIZON_H,
)
from memory_analysis.analysis.trend import level_se
from memory_analysis.numbers import amount, hours, known, rounded, seconds

MB = 1024 * 1024
HORIZON_S = WORTH_CARING_HORIZON_H * 3600.0
# Points a fit takes from one stretch at most: the fits' cost grows with them, and
# neighbouring samples half a second apart add little (they are alike). A stretch is
# thinned by a whole stride, so its samples stay evenly spaced (the noise's
# autocorrelation is measured in lags of one spacing).
MOST_POINTS = 200
# Shapes the cooldown is fitted with: it has no requests, so nothing slows with them.
# What is left once a step or a warm-up is set aside is fitted again without a step.
_NO_STEPS = tuple(f for f in FAMILIES if f.name not in STEPS)
COOLDOWN_FAMILIES = tuple(f for f in FAMILIES
                          if f.name in ("flat", "linear", "levels off", "linear after warm-up"))


@dataclass(frozen=True)
class LoadSegment:
    """One run of the load tester on the samples' clock: when it sent requests, how
    many, and (optionally) its per-second rows (``t`` = end of each second since start)."""

    start_t: float
    end_t: float
    requests: int
    timeline: list[dict[str, Any]] | None = None

    @classmethod
    def of(cls, run: dict[str, Any]) -> LoadSegment:
        """From a load run as the runner lists it (``start_t``, ``end_t``,
        ``requests``, ``timeline``)."""
        return cls(run["start_t"], run["end_t"], run.get("requests") or 0, run.get("timeline"))


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


@dataclass(frozen=True)
class LeakVerdict:
    """The report's ``memory.leak`` block, as one value. ``as_dict`` is what the report
    carries; every sentence in ``reason`` is made from these same figures."""

    verdict: str  # "leak", "no leak", "too short to tell" or "not judged"
    reason: str
    confidence: str = "none"  # "high", "medium", "low" or "none"
    shape: str | None = None  # "flat", "linear", "levels off", "slowing", "periodic", "step"
    follows: str | None = None  # "requests", "time", "load" or None
    slope_mb_per_min: float | None = None
    slope_ci_mb_per_min: list[float] | None = None
    projected_growth_mb: float | None = None
    projected_growth_ci_mb: list[float] | None = None
    headroom_mb: float | None = None
    time_to_limit_h: float | None = None
    bytes_per_request: int | None = None
    detection_limit_mb_per_min: float | None = None
    worth_caring_mb_per_min: float | None = None
    independent_points: float | None = None
    dof: float | None = None
    excursions: int | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def suspected(self) -> bool:
        return self.verdict == "leak"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        figures = out.pop("figures")
        return {"suspected": self.suspected, **out, "horizon_h": WORTH_CARING_HORIZON_H,
                **figures}


def not_judged(reason: str, confidence: str = "none") -> dict[str, Any]:
    return LeakVerdict("not judged", reason, confidence).as_dict()


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class _Run:
    """What the verdict is built from: the load's points and their fits, the cooldown's,
    and the figures gathered on the way."""

    series: MemorySeries
    points: Points
    shapes: list[ShapeFit]
    noise: Noise
    rate_per_s: float | None  # the load's mean request rate; x is in its seconds
    periodic: list[tuple[int, float | None]]  # (releases, period) of periodic stretches
    cooldown: tuple[Points, list[ShapeFit], Noise] | None
    figures: dict[str, Any] = field(default_factory=dict)
    # The verdict is one of this many looks at a run that grows until one is definite
    # (--load-test auto): each look decides at the error rates divided among them
    # (Bonferroni), so that stopping at the first definite one keeps the rates of a
    # single verdict.
    looks: int = 1

    @property
    def leak_alpha(self) -> float:
        return LEAK_ALPHA / self.looks

    @property
    def no_leak_alpha(self) -> float:
        return NO_LEAK_ALPHA / self.looks

    @property
    def best(self) -> ShapeFit:
        return self.shapes[0]

    @property
    def x_end(self) -> float:
        return max(self.points.x)

    @property
    def x_span(self) -> float:
        return self.x_end - min(self.points.x)

    @property
    def span_s(self) -> float:
        return max(self.points.t) - min(self.points.t)


def served_seconds(segments: list[LoadSegment]):
    """x of a sample at time t, as requests drive growth: requests sent since the load
    began, in seconds at the load's mean request rate; and that rate. None when no
    requests were counted."""
    seconds = sum(max(s.end_t - s.start_t, 0.0) for s in segments)
    requests = sum(s.requests for s in segments)
    if requests <= 0 or seconds <= 0:
        return None
    rate = requests / seconds
    return (lambda t: requests_by(t, segments) / rate), rate


def _driver(series: MemorySeries, segments: list[LoadSegment]):
    """x of a sample at time t, and the load's mean request rate (``served_seconds``;
    the clock, when no requests were counted)."""
    served = served_seconds(segments)
    if served is not None:
        return served
    load_t = [t for t, p in zip(series.t, series.phase, strict=True) if p == "load"]
    first = load_t[0] if load_t else 0.0
    return (lambda t: t - first), None


def _sending(t: float, segments: list[LoadSegment]) -> bool:
    """Whether requests were still being sent at ``t``: the load phase lasts until the
    load tester has exited, a moment after its last request; a sample in that moment
    holds what the load left, and would pass for growth that stopped (a warm-up
    levelling off). Only known from the per-second counts; without them, True."""
    started = [segment for segment in segments if segment.start_t <= t]
    if not started:
        return True
    latest = max(started, key=lambda segment: segment.start_t)
    counted = [row["t"] for row in latest.timeline or [] if row.get("requests")]
    return not counted or t <= latest.start_t + max(counted)


def _load_points(series: MemorySeries, to_x, segments: list[LoadSegment],
                 floors: bool = True) -> tuple[Points, list[tuple[int, float | None]]]:
    """The load stretches' points to fit, while requests were being sent: a periodic
    release's floor (unless ``floors`` is False), or every sample (spikes taken out),
    each stretch thinned to ``MOST_POINTS``."""
    xs, ys, groups, ts = [], [], [], []
    periodic = []
    for index, stretch in enumerate(s for s in series.stretches() if s.phase == "load"):
        sent = [(t, mb) for t, mb in zip(stretch.t, stretch.mb, strict=True)
                if _sending(t, segments)]
        if len(sent) < MIN_TREND_POINTS:
            continue
        t, y, releases = troughs([t for t, _ in sent], [mb for _, mb in sent])
        if releases and not floors:
            t, y, releases = [t for t, _ in sent], despike([mb for _, mb in sent]), 0
        if releases:
            period = (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else None
            periodic.append((releases, period))
        for i in _every(len(t)):
            xs.append(to_x(t[i]))
            ys.append(y[i])
            groups.append(index)
            ts.append(t[i])
    return Points(xs, ys, groups, ts), periodic


def _every(count: int) -> list[int]:
    """Indexes of at most ``MOST_POINTS`` of ``count`` samples, by a whole stride."""
    return list(range(0, count, max(1, math.ceil(count / MOST_POINTS))))


def _cooldown(series: MemorySeries) -> tuple[Points, list[ShapeFit], Noise] | None:
    stretches = [s for s in series.stretches() if s.phase == "cooldown"
                 and len(s.t) >= MIN_TREND_POINTS]
    if not stretches:
        return None
    last = stretches[-1]
    t, y, releases = troughs(last.t, last.mb)
    if releases and len(t) < MIN_TEETH:  # too few floors to trend: every sample
        t, y, releases = last.t, despike(last.mb), 0
    keep = _every(len(t))
    points = Points([t[i] - t[0] for i in keep], [y[i] for i in keep], [0] * len(keep),
                    [t[i] for i in keep])
    fitted = fit_shapes(points, COOLDOWN_FAMILIES,
                        fewest=MIN_TEETH if releases else MIN_TREND_POINTS)
    return None if fitted is None else (points, fitted[0], fitted[1])


def _late_share(series: MemorySeries) -> float:
    """Share of the load's sampling gaps longer than ``LATE_SAMPLE_GAP`` times the usual
    one: the monitor itself was kept waiting (a starved machine)."""
    load_t = [t for t, p in zip(series.t, series.phase, strict=True) if p == "load"]
    gaps = [b - a for a, b in zip(load_t, load_t[1:], strict=False)]
    usual = median(gaps)
    if not gaps or not usual:
        return 0.0
    return sum(1 for g in gaps if g > LATE_SAMPLE_GAP * usual) / len(gaps)


def leak_verdict(series: MemorySeries, segments: list[LoadSegment] | None = None,
                 worth_caring: float | None = None, limit_mb: float | None = None,
                 peak_mb: float | None = None,
                 limit_name: str = "it is judged against", looks: int = 1) -> dict[str, Any]:
    """The report's ``memory.leak`` block.

    ``segments``: the load tester's runs on the samples' clock, to count requests;
    ``worth_caring``: the slowest leak worth caring about, MB/min
    (``worth_caring_mb_per_min``: the headroom over the horizon); ``limit_mb`` and
    ``peak_mb``: the memory a leak would run into and the peak, for the time until it is
    reached; ``limit_name``: what that memory is, after "the 512 MB"; ``looks``: how many
    looks the run may take in all (``--load-test auto``), each at its share of the error
    rates.
    """
    return _verdict(series, segments or [], worth_caring, limit_mb, peak_mb,
                    limit_name, looks=looks).as_dict()


def _verdict(series: MemorySeries, segments: list[LoadSegment], worth_caring: float | None,
             limit_mb: float | None, peak_mb: float | None, limit_name: str,
             floors: bool = True, looks: int = 1) -> LeakVerdict:
    """``leak_verdict``, from a periodic release's floors where there are any (unless
    ``floors`` is False: every sample)."""
    by_requests, rate = _driver(series, segments)
    points, periodic = _load_points(series, by_requests, segments, floors)
    fewest = MIN_TEETH if periodic else MIN_TREND_POINTS
    fitted = fit_shapes(points, fewest=fewest) if points.x else None
    driver = "requests" if rate is not None else "time"
    # Without per-second counts, requests are spread evenly over each run of the load:
    # the two drivers are the same line, and one fit does.
    counted = any(segment.timeline for segment in segments)
    if fitted is None:
        load_points = sum(1 for p in series.phase if p == "load")
        if periodic and points.x:
            # Too few releases to trend where they fall back to. Growth that is a leak
            # whatever the teeth do (every sample judged, the releases within the noise)
            # is still one, and growth fast enough to use up the headroom is still worth
            # the warning it gets.
            whole = _verdict(series, segments, worth_caring, limit_mb, peak_mb, limit_name,
                             floors=False, looks=looks)
            if whole.verdict == "leak" or "headroom_lasts_h" in whole.figures:
                return whole
            return _too_few_teeth(points, periodic)
        return LeakVerdict("not judged", f"no stretch of steady load had {MIN_TREND_POINTS} "
                           f"samples or more ({load_points} load samples in all): too few "
                           "to judge a trend", "none")
    cooldown = _cooldown(series)
    run = _settled(_Run(series, points, fitted[0], fitted[1], rate, periodic, cooldown,
                        {"driver": driver}, looks))
    if rate is not None and counted:
        # Growth that follows the clock (a timer) is straight against it, not against
        # requests that come unevenly: the driver is whichever the shape judged fits
        # closer, once a warm-up or a step in front of it is set aside (the sharp rise of
        # a warm-up would otherwise choose it).
        first = min(t for t, p in zip(series.t, series.phase, strict=True) if p == "load")
        by_time, _ = _load_points(series, lambda t: t - first, segments, floors)
        timed = fit_shapes(by_time, fewest=fewest)
        if timed is not None:
            other = _settled(_Run(series, by_time, timed[0], timed[1], rate, periodic,
                                  cooldown, {"driver": "time"}, looks))
            if _misfit(other) < _misfit(run):
                run = other
    if run.best.name == "step":
        return _too_short(run, worth_caring, "step")
    return _judge(run, worth_caring, limit_mb, peak_mb, limit_name)


def kept_text(bytes_per_request: int) -> str:
    """"about 16,384 bytes (16.0 KB) kept per request"; under a KB, bytes alone."""
    kb = (f" ({amount(bytes_per_request / 1024, 'KB')})" if bytes_per_request >= 1024
          else "")
    return f"about {bytes_per_request:,} bytes{kb} kept per request"


def rate_text(mb_per_min: float, interval: list[float] | None = None) -> str:
    """A growth rate as text, in MB/min as the report gives it: rounded as its 95 %
    ``interval`` warrants when it has one (as the summary shows it beside the
    interval), else to three significant figures."""
    return known(mb_per_min, interval, "MB/min")


def _more(projection: Projection) -> tuple[str, str, str]:
    """A projection's estimate and bounds, in MB, rounded as their spread warrants."""
    return rounded(projection.estimate, projection.low, projection.high)


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


def _rate_bounds(shape: ShapeFit, noise: Noise, x: float, alpha: float) -> tuple[float, float]:
    """Bounds at ``alpha`` each side on the shape's rate at ``x`` (per unit of x)."""
    weights = shape.family.rate(shape.best.theta, x)
    if not weights:
        return 0.0, 0.0
    return (linear_bound(shape, noise, alpha, False, weights),
            linear_bound(shape, noise, alpha, True, weights))


def _rate_interval(run: _Run, confidence: float) -> tuple[float, float]:
    """The rate at the end of the load (per unit of x), over every shape the data allow:
    the best shape's rate alone would hide how much the choice of shape moves it."""
    alpha = (1.0 - confidence) / 2.0
    bounds = [_rate_bounds(s, run.noise, run.x_end, alpha) for s in plausible(run.shapes)]
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


def _detection_limit(run: _Run, kinds: tuple[str, ...] = ("linear", *LEAKS_BEHIND)
                     ) -> float | None:
    """The steady growth (MB/min) the run finds 95 % of the time: its bound at
    ``LEAK_ALPHA`` plus the same kind of margin at the power, for a leak on its own or
    behind a warm-up (``kinds``), whichever the data do not rule out and hides more."""
    limits = []
    for shape in plausible(run.shapes):
        if shape.family.name not in kinds:
            continue
        weights = [0.0] * (len(shape.best.coef) - 1) + [1.0]  # the linear term alone
        # Over the warm-up's time constants the data allow: the longer one, the more
        # of a leak it could pass for.
        for candidate in allowed(shape, run.noise, NO_LEAK_ALPHA):
            if shape.family.name in LEAKS_BEHIND and not shows_warmup(shape, run.noise,
                                                                       candidate):
                continue
            slope = candidate.coef[-1]
            low = linear_bound(shape, run.noise, run.leak_alpha, False, weights, candidate)
            power_low = linear_bound(shape, run.noise, 1.0 - DETECTION_POWER, False, weights,
                                     candidate)
            limits.append(max((slope - low) + (slope - power_low), 0.0) * 60.0)
    return max(limits) if limits else None


def _released(run: _Run) -> tuple[float, float, float] | None:
    """(MB given back by the end of the cooldown, MB the last load stretch grew by, the
    standard error of what was given back). Given back is measured from where the load
    left memory (the fitted shape at its end: a periodic release's floor) to the
    cooldown's end level, the same end level the recovery figure uses."""
    if run.cooldown is None:
        return None
    last = max(run.points.groups)
    rows = [i for i, g in enumerate(run.points.group) if g == last]
    if run.cooldown[0].t[0] < run.points.t[rows[-1]]:
        return None
    end = cooldown_end_mb(run.series)
    if end is None:
        return None
    start_level = run.best.best.value(run.points, rows[0])
    end_level = run.best.best.value(run.points, rows[-1])
    tail = run.cooldown[0].y[-max(len(run.cooldown[0].y) // 4, 2):]
    se = math.hypot(math.sqrt(run.noise.marginal), level_se(tail))
    return end_level - end, end_level - start_level, se


def _follows(run: _Run) -> str | None:
    """"requests" when growth under load slows to under half its rate once the load
    stops (the midpoint between all of it going on and none), "time" when it clearly
    goes on without load; None when no cooldown tells."""
    if run.cooldown is None:
        return None
    points, shapes, noise = run.cooldown
    cool = shapes[0]
    x = max(points.x)
    cool_rate = cool.rate(x)
    cool_low, cool_high = _rate_bounds(cool, noise, x, NO_LEAK_ALPHA)
    load_rate = run.best.rate(run.x_end)
    load_low, _ = _rate_bounds(run.best, run.noise, run.x_end, NO_LEAK_ALPHA)
    spread = math.hypot(load_rate - load_low, cool_high - cool_rate)
    if cool_rate < RELEASED_SHARE * load_rate and load_rate - cool_rate > spread:
        return "requests"
    if cool_low > 0:
        return "time"
    return None


def _hours_to(run: _Run, needed_mb: float) -> float | None:
    """Hours of the same load until the best shape has added ``needed_mb``."""
    if needed_mb <= 0:
        return 0.0
    grow = run.best.growth
    longest = 10 * 365 * 24 * 3600.0
    if grow(run.x_end, run.x_end + longest) < needed_mb:
        return None
    low, high = 0.0, longest
    for _ in range(80):
        middle = (low + high) / 2.0
        if grow(run.x_end, run.x_end + middle) < needed_mb:
            low = middle
        else:
            high = middle
    return high / 3600.0


def _after(run: _Run, x0: float, figures: dict[str, Any],
           families: tuple[Family, ...]) -> _Run | None:
    """The run from ``x0`` on (the last stretch cut there, the others whole), fitted
    again with ``families``, with x counted from ``x0``: the curves start where the
    stretch now starts (a warm-up's column at x far beyond its time constant would be
    1 to the last digit, and its rise a meaningless figure). None when too little of it
    is left."""
    last = max(run.points.groups)
    kept = _take(run.points, [i for i, (x, g) in enumerate(zip(run.points.x, run.points.group,
                                                                strict=True))
                              if x >= x0 or g != last])
    after = Points([x - x0 for x in kept.x], kept.y, kept.group, kept.t)
    fitted = fit_shapes(after, families)
    if fitted is None:
        return None
    return _Run(run.series, after, fitted[0], fitted[1], run.rate_per_s, run.periodic,
                run.cooldown, {**run.figures, **figures}, run.looks)


def _take(points: Points, rows: list[int]) -> Points:
    """The points at ``rows``."""
    return Points([points.x[i] for i in rows], [points.y[i] for i in rows],
                  [points.group[i] for i in rows], [points.t[i] for i in rows])


def _after_step(run: _Run) -> _Run | None:
    """What memory did besides a step: the whole run with the step's rise taken off the
    points after it, fitted again without a step. (Cut at the step instead, a heap that
    grows in a chunk halfway through a steady leak would leave only what came after the
    chunk to judge.) None when no shape fits what is left."""
    x0 = run.best.best.theta
    assert x0 is not None
    rise = run.best.growth(x0 - 1e-9, x0 + 1e-9)
    at = next(t for x, t in zip(run.points.x, run.points.t, strict=True) if x >= x0)
    skip = _mid_step(run, x0, rise)
    kept = _take(run.points, [i for i in range(len(run.points.x)) if i not in skip])
    # The rise again without them: one sample halfway up would pull either level.
    refit = fit_at(kept, run.best.family, x0)
    if refit is not None:
        rise = refit.coef[0]
    besides = Points(kept.x, [y - rise if x >= x0 else y for x, y in zip(kept.x, kept.y,
                                                                         strict=True)],
                     kept.group, kept.t)
    fitted = fit_shapes(besides, _NO_STEPS)
    if fitted is None:
        return None
    return _Run(run.series, besides, fitted[0], fitted[1], run.rate_per_s, run.periodic,
                run.cooldown, {**run.figures,
                               "step": {"rise_mb": round(rise, 2), "at_t": round(at, 3)}},
                run.looks)


def _mid_step(run: _Run, x0: float, rise: float) -> set[int]:
    """The points taken while a step at ``x0`` was under way (memory filled over a
    second or two), which are neither level: those next to it, on either side, more than
    a quarter of its rise from the fit."""
    points = run.points
    order = sorted(range(len(points.x)), key=lambda i: points.x[i])
    first_after = next((k for k, i in enumerate(order) if points.x[i] >= x0), len(order))
    skip: set[int] = set()
    for side in (range(first_after, len(order)), range(first_after - 1, -1, -1)):
        for k in side:
            i = order[k]
            if abs(points.y[i] - run.best.best.value(points, i)) <= abs(rise) / 4.0:
                break
            skip.add(i)
    return skip


def _after_warmup(run: _Run, behind: ShapeFit) -> _Run | None:
    """What memory did once a warm-up in front of steady growth was over (four time
    constants: 98 % of it), fitted again with every shape: growth that is itself still
    slowing there (a second, slower warm-up, a cache on a long tail) is not the steady
    growth a leak is, and growth straight there is, whatever the curve through the
    warm-up suggested. None
    when the warm-up was not over within the first half of the load, or too little is
    left after it. ``behind``: the fit of a leak behind a warm-up."""
    tau = behind.best.theta
    assert tau is not None
    start = min(run.points.x)
    if WARMUP_OVER_TIME_CONSTANTS * tau > run.x_span / 2.0:
        return None
    warmup = {"warmup": {"rise_mb": round(behind.best.coef[0], 2), "tau_s": round(tau, 1)}}
    return _after(run, start + WARMUP_OVER_TIME_CONSTANTS * tau, warmup,
                  _NO_STEPS)


def _trend_lines(run: _Run) -> list[dict[str, float]]:
    """The best shape as drawn over each load stretch it was fitted to, a few straight
    pieces per stretch; a straight shape's pieces carry its 95 % interval."""
    lines = []
    for group in run.points.groups:
        rows = [i for i, g in enumerate(run.points.group) if g == group]
        if len(rows) < 2:
            continue
        every = max(1, len(rows) // 8)
        marks = rows[::every] + ([rows[-1]] if rows[-1] not in rows[::every] else [])
        for a, b in zip(marks, marks[1:], strict=False):
            start = run.best.best.value(run.points, a)
            end = run.best.best.value(run.points, b)
            lines.append({"start_t": round(run.points.t[a], 3), "end_t": round(run.points.t[b], 3),
                          "start_mb": round(start, 3), "end_mb": round(end, 3),
                          "low_start_mb": round(start, 3), "low_end_mb": round(end, 3),
                          "high_start_mb": round(start, 3), "high_end_mb": round(end, 3)})
    return lines


def _settled(run: _Run) -> _Run:
    """The run to judge: after a step or a finished warm-up in front of the growth, when
    the best shape has one; the run as it is otherwise, or when too little is left after
    a step (its best shape is then still the step)."""
    if run.best.name == "step":
        return _after_step(run) or run
    if run.best.family.name == "linear after warm-up":
        return _after_warmup(run, run.best) or run
    return run


def _misfit(run: _Run) -> float:
    """Mean squared residual of the shape judged, a step left unjudged counting as none
    fitted."""
    if run.best.name == "step":
        return math.inf
    return run.best.best.rss / len(run.points.y)


def _ahead(run: _Run, alpha_low: float, alpha_high: float, hidden: bool = True
           ) -> Projection:
    """Growth still to come over the horizon, with bounds (``growth.project``); the
    upper one also covers a line hidden behind the best shape, if it bends
    (``growth.hidden_line_high``), unless ``hidden`` is False (where only the lower
    bound is read: the hidden line's fits are the verdict's costliest)."""
    x1 = run.x_end + HORIZON_S
    projection = project(run.shapes, run.noise, run.x_end, x1, alpha_low, alpha_high,
                         run.x_span)
    if not hidden:
        return projection
    line = hidden_line_high(run.points, run.best, run.noise, run.x_end, x1, alpha_high,
                            run.x_span)
    return replace(projection, high=max(projection.high, line))


def _judge(run: _Run, worth_caring: float | None,
           limit_mb: float | None, peak_mb: float | None,
           limit_name: str = "it is judged against") -> LeakVerdict:
    noise = run.noise
    best = run.best
    x0 = min(run.points.x)
    headroom = None if worth_caring is None else worth_caring * WORTH_CARING_HORIZON_H * 60.0
    projection = _ahead(run, run.leak_alpha, run.no_leak_alpha)
    weights = best.family.growth(best.best.theta, x0, run.x_end)
    grown = best.growth(x0, run.x_end)
    grown_low = linear_bound(best, noise, run.leak_alpha, False, weights) if weights else 0.0
    growing = grown_low > 0
    slope = best.rate(run.x_end) * 60.0
    low, high = _rate_interval(run, 0.95)
    late = _late_share(run.series)
    least_bic = min(s.bic for s in run.shapes)
    run.figures.update({
        "window_start_t": round(min(run.points.t), 3),
        "window_end_t": round(max(run.points.t), 3),
        "window_points": len(run.points.x),
        "growth_over_run_mb": round(grown, 3),
        "growing": growing,
        "late_samples_share": round(late, 3),
        "trend_lines": _trend_lines(run),
        "shapes_considered": [{"shape": s.family.name, "bic": round(s.bic - least_bic, 2)}
                              for s in run.shapes],
    })
    if best.family.name in ("levels off", "linear after warm-up") and "warmup" not in run.figures:
        assert best.best.theta is not None
        run.figures["warmup"] = {"rise_mb": round(best.best.coef[0], 2),
                                 "tau_s": round(best.best.theta, 1)}
    if run.periodic:
        periods = [p for _, p in run.periodic if p]
        run.figures["periodic_release"] = {
            "stretches": len(run.periodic),
            "period_s": _round(median(periods), 2) if periods else None}
    cycles = _cycles(run.series)
    if len(cycles) > 1:
        run.figures["cycles"] = cycles
    follows = _follows(run)
    base: dict[str, Any] = dict(
        slope_mb_per_min=_round(slope), slope_ci_mb_per_min=[round(low * 60, 3),
                                                             round(high * 60, 3)],
        projected_growth_mb=round(projection.estimate, 1),
        projected_growth_ci_mb=[round(projection.low, 1), round(projection.high, 1)],
        headroom_mb=_round(headroom, 1),
        detection_limit_mb_per_min=_round(_detection_limit(run)),
        worth_caring_mb_per_min=_round(worth_caring),
        independent_points=round(noise.n_eff, 1), dof=round(dof_of(best, noise), 1),
        excursions=noise.excursions,
        shape="periodic" if run.periodic and best.name in ("flat", "linear") else best.name,
        figures=run.figures)
    # Hours the headroom lasts by the best fit, when it is used up within the horizon:
    # growth not yet told from a leak that would (a warning, level.py).
    lasts = (_hours_to(run, headroom) if headroom and projection.estimate > headroom
             else None)
    if noise.looks < MIN_INDEPENDENT_POINTS:
        # Too little evidence for a verdict, but not for a warning: V8 grows its heap in
        # chunks that leave a steady leak two or three looks about its line.
        return _too_short(run, worth_caring, "evidence", base,
                          lasts=lasts if growing else None)
    released = _released(run)
    returned = None
    if released is not None:
        given_back, grown_last, se = released
        run.figures["released_in_cooldown_mb"] = round(given_back, 2)
        beyond = given_back - RELEASED_SHARE * grown_last
        if growing and grown_last > 0 and beyond > z_one_sided(run.leak_alpha) * se:
            return LeakVerdict(
                "no leak", confidence="medium", follows="load", **base,
                reason=(f"grew {amount(grown_last, 'MB')} during the load "
                        f"({rate_text(slope, base['slope_ci_mb_per_min'])} at its end) but "
                        f"{amount(given_back, 'MB')} of it came back in the cooldown: memory "
                        "that follows the load in flight (a backlog, buffers, a collector "
                        "that had not run yet), not a leak"))
        if grown_last > 0 and beyond > -z_one_sided(run.no_leak_alpha) * se:
            returned = (grown_last, given_back)
    # What a leak added over the run: all of the growth, or for a leak behind a warm-up
    # or a slowing cache, its steady part alone. Less than an arena is a heap's last
    # pages being touched, or a fit's rounding, however significant at a low noise.
    kept = best.best.coef[-1] * run.x_span if best.family.name in LEAKS_BEHIND else grown
    if growing and kept >= MIN_LEAK_GROWTH_MB and (headroom is None
                                                   or projection.low > headroom):
        if returned is not None:
            return _too_short(run, worth_caring, "returned", base, returned=returned)
        return _leak(run, base, projection, headroom, follows, limit_mb, peak_mb, limit_name)
    # "No leak" also needs a run that could have seen a leak worth caring about: a plain
    # line still plausible must have a detection limit under that rate (a few seconds of
    # a falling line project no growth, yet rule nothing out).
    line = _detection_limit(run, ("linear",))
    could_see = line is None or (worth_caring is not None and line <= worth_caring)
    if headroom is not None and projection.high <= headroom and could_see:
        return _no_leak(run, base, projection, headroom, growing)
    if run.periodic and best.name in ("flat", "linear"):
        return _too_short(run, worth_caring, "noise", base)
    if (growing and kept >= MIN_LEAK_GROWTH_MB and lasts is not None
            and best.name == "linear" and _bending(run)):
        # Growth as straight as a leak's, but a curve that bends and stops within the
        # headroom fits nearly as well: the noise did not hide it, the run's length did.
        return _too_short(run, worth_caring, "bend", base, lasts=lasts)
    # What left it open: a curve still bending at the end of the load (more of the load
    # shows where the bend goes, and what could hide behind it), or the noise.
    shaped = best.name in ("levels off", "slowing")
    return _too_short(run, worth_caring, "shape" if shaped else "noise", base,
                      lasts=lasts if growing else None)


def _bending(run: _Run) -> list[str]:
    """The shapes that bend and stop, still plausible beside the best one."""
    return sorted({s.name for s in plausible(run.shapes)[1:] if s.family.name in BENDING})


def _confidence(run: _Run, strict_ok: bool) -> str:
    """"high" only on the evidence ``HIGH_CONFIDENCE_DOF`` asks for, a stricter bound,
    a cooldown seen, and a monitor that was not kept waiting."""
    late = run.figures.get("late_samples_share") or 0.0
    if (strict_ok and dof_of(run.best, run.noise) >= HIGH_CONFIDENCE_DOF
            and late < LATE_SAMPLES_SHARE and run.cooldown is not None):
        return "high"
    return "medium"


def _leak(run: _Run, base: dict[str, Any], projection: Projection, headroom: float | None,
          follows: str | None, limit_mb: float | None, peak_mb: float | None,
          limit_name: str) -> LeakVerdict:
    strict = _ahead(run, run.leak_alpha / 10.0, run.no_leak_alpha, hidden=False)
    confidence = _confidence(run, headroom is not None and strict.low > headroom)
    slope = base["slope_mb_per_min"] or 0.0
    per_request = None
    if follows == "requests" and run.rate_per_s:
        per_request = max(0, round(run.best.rate(run.x_end) / run.rate_per_s * MB))
    hours_to_limit = None
    if limit_mb is not None and peak_mb is not None:
        hours_to_limit = _hours_to(run, limit_mb - peak_mb)
    rate, low, high = rounded(slope, *base["slope_ci_mb_per_min"])
    rate += " MB/min"
    estimate, least, _ = _more(projection)
    room = amount(headroom or 0.0, "MB")
    if follows == "requests":
        kept = f", {kept_text(per_request)}" if per_request is not None else ""
        how = f"grew {rate} under load and stopped when the requests did{kept}"
    elif follows == "time":
        how = (f"grew {rate} and went on growing in the cooldown with no load: "
               "something allocates on its own (a timer, a background task, a queue never "
               "drained)")
    else:
        how = (f"grew {rate} and did not give it back"
               + ("" if run.cooldown is not None else " (no cooldown was observed to see "
                  "whether it comes back)"))
    if run.best.name == "slowing":
        how += (f"; it slows down, but not enough: about {estimate} MB more "
                f"within {WORTH_CARING_HORIZON_H:.0f} h of this load (at least "
                f"{least} MB), beyond the {room} of headroom")
    elif run.best.name == "levels off":
        how += (f"; it slows down, yet what is still to come (at least "
                f"{least} MB) is beyond the {room} of headroom")
    rises = [c["growth_mb"] for c in run.figures.get("cycles", [])[1:]
             if c.get("growth_mb") is not None]
    if rises and all(r > 0 for r in rises):
        how += "; every cycle ended higher than the one before (" + ", ".join(
            f"{r:+.1f} MB" for r in rises) + ")"
    reason = f"{how} (95 % interval {low} to {high} MB/min)"
    if hours_to_limit is not None and limit_mb is not None:
        if hours_to_limit == 0:
            reason += (f"; the peak is already at or above the {limit_mb:,.0f} MB "
                       f"{limit_name}")
        else:
            reason += (f"; at this rate the {limit_mb:,.0f} MB {limit_name} is "
                       f"reached in about {hours(hours_to_limit)}")
    return LeakVerdict("leak", reason, confidence, follows=follows, bytes_per_request=per_request,
                       time_to_limit_h=_round(hours_to_limit, 4), **base)


def _no_leak(run: _Run, base: dict[str, Any], projection: Projection, headroom: float,
             growing: bool) -> LeakVerdict:
    horizon = f"{WORTH_CARING_HORIZON_H / 24:.0f} days"
    slope = base["slope_mb_per_min"] or 0.0
    trend = rate_text(slope, base["slope_ci_mb_per_min"])
    worth = base["worth_caring_mb_per_min"] or 0.0
    shape = base["shape"]
    step = run.figures.get("step")
    estimate, _, most = _more(projection)
    room = amount(headroom, "MB")
    if step:
        what = (f"rose {amount(step['rise_mb'], 'MB')} once (at {step['at_t']:.0f} s), then "
                f"stayed level: at most {most} MB more over {horizon} "
                f"of this load, under the {room} of headroom")
    elif shape == "slowing":
        what = (f"grows ever more slowly ({trend} at the end of the load), as a "
                "cache filling on a long-tailed key distribution does: about "
                f"{estimate} MB more (at most {most} MB) "
                f"within {horizon} of this load, under the {room} of headroom")
    elif shape == "levels off":
        warm = run.best.best.theta or 0.0
        what = (f"levels off after warming up (time constant {seconds(warm)}): at most "
                f"{most} MB more to come, under the {room} of headroom")
    elif growing and slope > 0:
        lasts = headroom / slope / 60.0 / 24.0 if slope > 0 else math.inf
        what = (f"grows {trend}, too slowly to matter: under the "
                f"{rate_text(worth)} that would use up the headroom within {horizon}"
                + (f"; at that rate the headroom would last about {lasts:,.0f} days"
                   if math.isfinite(lasts) else ""))
    else:
        what = (f"no growth faster than {rate_text(base['detection_limit_mb_per_min'] or 0.0)} "
                f"could hide in this run (trend {trend}); a leak worth caring "
                f"about would grow {rate_text(worth)} or more (using up the headroom within "
                f"{horizon})")
    if shape == "periodic":
        what = "falls back to the same floor after each periodic release: " + what
    strict = _ahead(run, run.leak_alpha, run.leak_alpha)
    confidence = _confidence(run, strict.high <= headroom)
    return LeakVerdict("no leak", what, confidence, **base)


def _too_few_teeth(points: Points, periodic: list[tuple[int, float | None]]) -> LeakVerdict:
    """A periodic release with too few teeth to trend where it falls back to."""
    periods = [p for _, p in periodic if p]
    period = median(periods) if periods else None
    teeth = len(points.x)
    figures: dict[str, Any] = {"periodic_release": {"stretches": len(periodic),
                                                    "period_s": _round(period, 2)}}
    more = MIN_TEETH - teeth
    span = max(points.t) - min(points.t) if points.t else 0.0
    why = (f"memory saws: it rises and is released about every {period or 0:.0f} s, and "
           f"this load saw {teeth} of those releases; where it falls back to after each one "
           f"is what a leak would raise, and {MIN_TEETH} releases tell it")
    if period:
        # The first release comes about a period into the load, then one a period.
        figures["run_needed_s"] = round(span + (more + 1) * period)
        why += (f": a load phase about {math.ceil(figures['run_needed_s'] / 60)} min long "
                "would")
    return LeakVerdict("too short to tell", why, "low", shape="periodic", figures=figures)


def _run_factor(run: _Run, share: float) -> float:
    """How many times this run's length a load of the same noise needs for its detection
    limit to fall to ``share`` of what it is: the limit scaled as a longer run scales the
    two errors of a line's slope (``BoundErrors``). The corrected standard error falls as
    the length to the power 3/2 (more points, spread wider), the wander's worst case as
    the length (the sum of the slope's weights falls as their spread grows), and both
    gain degrees of freedom in proportion: with few looks at a slow wander, its Student's
    t falls fast, and the power 3/2 alone would ask for far too long a run."""
    line = next(s for s in run.shapes if s.family.name == "linear")
    errors = bound_errors(line, run.noise, [1.0])

    def limit(factor: float) -> float:
        longer = BoundErrors(
            se=errors.se / factor ** 1.5,
            dof=max(errors.dof + run.noise.n_eff * (factor - 1.0), 1.0),
            worst=errors.worst / factor,
            worst_dof=max(run.noise.excursions * factor - 1.0, 1.0))
        return longer.margin(run.leak_alpha) + longer.margin(1.0 - DETECTION_POWER)

    now = limit(1.0)
    if now <= 0 or share >= 1.0:
        return 1.0
    low, high = 1.0, LONGEST_RUN_FACTOR
    if limit(high) > share * now:
        return high
    for _ in range(60):
        middle = math.sqrt(low * high)
        if limit(middle) > share * now:
            low = middle
        else:
            high = middle
    return high


def _too_short(run: _Run, worth_caring: float | None, kind: str,
               base: dict[str, Any] | None = None,
               returned: tuple[float, float] | None = None,
               lasts: float | None = None) -> LeakVerdict:
    """"too short to tell", with what would tell: the ``kind`` of what limited the run
    ("evidence", "noise", "shape", "bend", "step", "returned"); ``lasts``: hours the
    headroom lasts by the best fit, when it is used up within the horizon."""
    base = dict(base or {"shape": run.best.name, "figures": run.figures,
                         "independent_points": round(run.noise.n_eff, 1)})
    figures = base["figures"]
    span = run.span_s
    detection = base.get("detection_limit_mb_per_min")
    needed = None
    capped = False
    if kind == "evidence":
        needed = span * MIN_INDEPENDENT_POINTS / max(run.noise.looks, 0.5)
        why = (f"memory wandered so slowly that this load held about {run.noise.looks:.0f} "
               f"independent looks at its noise, and a verdict needs "
               f"{MIN_INDEPENDENT_POINTS:.0f}")
    elif kind == "step":
        needed = span * 2.0
        why = ("memory rose once, near the end of the load, and too little came after it to "
               "tell whether it settled")
    elif kind == "shape":
        needed = span * SHAPE_RUN_FACTOR
        falling = run.best.rate(run.x_end) < 0
        tau = run.best.best.theta or 0.0
        # A warm-up over within the load (four time constants) bends no more.
        over = (run.best.name == "levels off"
                and WARMUP_OVER_TIME_CONSTANTS * tau <= run.x_span)
        if over and run.best.best.coef[0] > 0:
            what = (f"memory levelled off after warming up (time constant {seconds(tau)}), but "
                    "a slower warm-up, or one with a leak behind it, fits nearly as well; "
                    "whether what comes next stays within the headroom")
        elif over:
            what = (f"memory fell and levelled off (time constant {seconds(tau)}), as a "
                    "backlog that drained does, but a slower fall fits nearly as well; "
                    "whether a leak hides behind it")
        elif falling:
            what = ("memory was still falling and slowing down at the end of the load, as "
                    "a backlog draining does; whether a leak hides behind it")
        else:
            what = ("memory was still rising and slowing down at the end of the load, as a "
                    "cache or pool that is filling does; whether it levels off within the "
                    "headroom")
        estimate, _, most = rounded(base.get("projected_growth_mb") or 0.0,
                                 *(base.get("projected_growth_ci_mb") or [0.0, 0.0]))
        why = (what
               + f" (about {estimate} MB more in "
               f"{WORTH_CARING_HORIZON_H:.0f} h by its best fit, up to "
               f"{most} MB) this run cannot tell")
    elif kind == "bend":
        needed = span * SHAPE_RUN_FACTOR
        slope = base.get("slope_mb_per_min") or 0.0
        headroom = base.get("headroom_mb") or 0.0
        why = (f"memory grew {rate_text(slope, base.get('slope_ci_mb_per_min'))} under load, "
               f"straight so far, which would use up the {amount(headroom, 'MB')} of headroom "
               f"in about {hours(lasts)}; "
               "but a curve that slows down and stays within it "
               f"({' or '.join(_bending(run))}) fits this run nearly as well, and only more "
               "of the load shows which it is")
    elif kind == "returned":
        assert returned is not None
        grown, given_back = returned
        needed = span * SHAPE_RUN_FACTOR
        why = (f"memory grew {amount(grown, 'MB')} during the load and "
               f"{amount(given_back, 'MB')} came back in the cooldown: whether it was kept "
               "(a leak) or follows the load in flight is within the noise")
    elif not worth_caring:
        why = ("the peak already reached the memory the service is judged against, so any "
               "growth would matter and none can be ruled out; give it more memory first")
    elif detection is not None and detection <= worth_caring and base.get("headroom_mb"):
        # The run could see a leak worth caring about, and saw growth whose 72 h reach
        # the headroom: a slow creep, its interval about the headroom on both sides.
        # What tells is a rate known closely enough to put the reach on one side.
        reach = float(base.get("projected_growth_mb") or 0.0)
        reach_low, reach_high = (float(v) for v in
                                 base.get("projected_growth_ci_mb") or (0.0, 0.0))
        room = float(base["headroom_mb"])
        half = max(reach_high - reach, reach - reach_low)
        if span > 0 and half > 0:
            needed = span * _run_factor(run, min(abs(reach - room) / half, 1.0))
            capped = needed >= span * LONGEST_RUN_FACTOR
        shown_estimate, shown_low, shown_high = rounded(reach, reach_low, reach_high)
        why = (f"memory crept {rate_text(base.get('slope_mb_per_min') or 0.0)}, which over "
               f"{WORTH_CARING_HORIZON_H / 24:.0f} days comes to about {shown_estimate} MB "
               f"({shown_low} to {shown_high}), around the {amount(room, 'MB')} of headroom: "
               "whether it stays within it this run cannot tell")
    else:
        lasts = None  # no growth seen to project: what could hide decides
        if detection and detection > worth_caring and span > 0:
            needed = span * _run_factor(run, worth_caring / detection)
            capped = needed >= span * LONGEST_RUN_FACTOR
        why = (f"no growth faster than {rate_text(detection or 0.0)} could hide in this run, "
               f"but a leak of {rate_text(worth_caring)} would already use up the headroom "
               f"within {WORTH_CARING_HORIZON_H / 24:.0f} days")
    if lasts is not None:
        figures["headroom_lasts_h"] = round(lasts, 3)
    step = figures.get("step")
    if step and kind != "step":
        why = (f"memory rose {amount(step['rise_mb'], 'MB')} once (at {step['at_t']:.0f} s); "
               f"after that, {why}")
    if needed is not None and span > 0:
        figures["run_needed_s"] = round(needed)
        figures["run_length_factor"] = round(needed / span, 2)
        # In whole minutes from the seconds reported (60.4 s is "1 min", as the
        # suggestion's --load-test 60 is).
        why += (f"; a load phase of {'more than' if capped else 'about'} "
                f"{math.ceil(figures['run_needed_s'] / 60)} min (this one trended "
                f"{span / 60:.1f} min) would tell")
    elif kind != "noise" or worth_caring:
        why += "; a longer load phase would tell"
    figures["warming"] = kind == "shape"
    return LeakVerdict("too short to tell", why, "low", **base)
