"""What one stretch of steady load did, before its trend is taken: periodic release and
warm-up, recognised from the data.

- **Periodic release** (a sawtooth: batch buffers freed every few seconds, a runtime
  that collects in bursts): memory rises, then falls at once. The floor it falls back
  to is what a leak would raise, so the trend is taken over the troughs (the first
  sample after each release), never over every point (whose trend depends on where the
  window cuts the cycle). Isolated spikes are not releases: they are taken out first.
- **Warm-up** (a cache or pool filling, then levelling off): a rise that slows with a
  time constant. Fitted as ``a + r·(1 − e^(−x/τ)) + b·x`` against a straight line; when
  it explains the stretch better (a likelihood-ratio test counted in independent points),
  the trend is taken only from where what is left of the warm-up is smaller than the
  noise (``x ≥ τ·ln(|r| / noise)``), with that remainder taken out too, so what is
  trended is ``b``: the growth that goes on after warm-up. A warm-up not over before the
  stretch ends has not finished, and nothing can yet be said about what comes after it.

Pure functions over lists of floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from memory_analysis.analysis.series import MemorySeries, Stretch
from memory_analysis.analysis.stats import chi2_quantile, least_squares, mad, median, z_one_sided
from memory_analysis.analysis.thresholds import (
    LEAK_ALPHA,
    MIN_RELEASES,
    MIN_TREND_POINTS,
    MMAP_THRESHOLD_MB,
    PAGE_MB,
    RELEASE_SIGMAS,
    SLOWING_RATIO,
    SPIKE_HALF_WINDOW,
    SPIKE_SIGMAS,
    WARMUP_ALPHA,
)
from memory_analysis.analysis.trend import autocorrelation_time

# Time constants tried for a warm-up, from one sample to half the stretch.
TAU_STEPS = 30
REFINE_STEPS = 12


@dataclass(frozen=True)
class Warmup:
    """A recognised warm-up: ``rise_mb`` over time constant ``tau_s`` from the stretch's
    start; ``over_s``: seconds from the start after which what is left of it is under
    the noise; ``finished`` when that leaves enough of the stretch to trend;
    ``growth_after_significant``: the linear growth fitted beside it is clearly above
    zero; ``at_longest``: the time constant is the longest tried."""

    rise_mb: float
    tau_s: float
    over_s: float
    finished: bool
    growth_after_significant: bool
    at_longest: bool = False  # the time constant is the longest tried: it may be longer
    # The fitted curve grows in the stretch's later half at under SLOWING_RATIO of its
    # rate in the earlier half: it slows down as a filling cache does.
    slowing: bool = True


@dataclass(frozen=True)
class Settled:
    """The points of a stretch ready to be trended, and what was recognised in it."""

    t: list[float]
    mb: list[float]
    raw: list[float] = field(default_factory=list)  # the same points before the warm-up
    releases: int = 0
    period_s: float | None = None
    warmup: Warmup | None = None

    @property
    def unfinished_warmup(self) -> bool:
        """Still rising and slowing down at the end, with no growth beyond it shown (a
        warm-up as slow as the longest time constant tried cannot show any, unless the
        whole curve hardly slows: then what was found is a faint bend in steady growth,
        which the test of significance finds only because the noise is low)."""
        w = self.warmup
        return (w is not None and not w.finished and w.rise_mb > 0
                and (not w.growth_after_significant or (w.at_longest and w.slowing)))


def troughs(t: list[float], mb: list[float]) -> tuple[list[float], list[float], int]:
    """The floor of a periodic release: the first sample after each release.

    Isolated spikes are taken out first (``despike``). A release is a fall between
    samples (one or several in a row) of ``RELEASE_SIGMAS`` robust standard deviations
    of the sample-to-sample change, and at least glibc's mmap threshold; it belongs to a
    cycle when memory climbs back by half of it before the next one. With fewer than
    ``MIN_RELEASES`` such cycles the series is not periodic and comes back whole
    (despiked).
    """
    y = despike(mb)
    steps = [b - a for a, b in zip(y, y[1:], strict=False)]
    if len(steps) < 2 * MIN_RELEASES:
        return t, y, 0
    threshold = max(RELEASE_SIGMAS * (mad(steps) or 0.0), MMAP_THRESHOLD_MB)
    events: list[tuple[int, int]] = []  # (index before the fall, index after it)
    i = 0
    while i < len(steps):
        if steps[i] < -threshold:
            j = i
            while j + 1 < len(steps) and steps[j + 1] < -threshold:
                j += 1
            events.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    climbed = 0
    for k, (before, after) in enumerate(events[:-1]):
        next_fall = events[k + 1][0]
        if max(y[after:next_fall + 1]) - y[after] >= 0.5 * (y[before] - y[after]):
            climbed += 1
    if len(events) < MIN_RELEASES or climbed < MIN_RELEASES - 1:
        return t, y, 0
    return [t[a] for _, a in events], [y[a] for _, a in events], len(events)


def despike(values: list[float]) -> list[float]:
    """Values with isolated spikes replaced by their neighbourhood's median (Hampel).
    Only where a full window surrounds the sample: at a stretch's edge, a sample unlike
    its neighbours on one side is the start of a rise (the load's first requests), not
    a spike."""
    out = list(values)
    n = len(values)
    for i in range(SPIKE_HALF_WINDOW, n - SPIKE_HALF_WINDOW):
        window = values[max(0, i - SPIKE_HALF_WINDOW): i + SPIKE_HALF_WINDOW + 1]
        middle = median(window)
        assert middle is not None
        spread = mad(window) or 0.0
        if spread > 0 and abs(values[i] - middle) > SPIKE_SIGMAS * spread:
            out[i] = middle
    return out


def fit_warmup(t: list[float], mb: list[float]) -> Warmup | None:
    """A warm-up, when one explains the stretch better than a straight line; else None."""
    n = len(t)
    if n < 8:
        return None
    x = [v - t[0] for v in t]
    span = x[-1]
    if span <= 0:
        return None
    y = mb
    ones = [1.0] * n
    line = least_squares([ones, x], y)
    if line is None:
        return None
    gaps = sorted(b - a for a, b in zip(x, x[1:], strict=False))
    shortest = max(gaps[len(gaps) // 2], span / 500.0)
    longest = span / 2.0
    if longest <= shortest:
        return None
    def fit_at(tau: float) -> tuple[float, float, list[float], list[list[float]]] | None:
        curve = [1.0 - math.exp(-v / tau) for v in x]
        fit = least_squares([ones, curve, x], y)
        return None if fit is None else (tau, fit[1], fit[0], fit[2])

    ratio = (longest / shortest) ** (1.0 / (TAU_STEPS - 1))
    grid = [fit_at(shortest * ratio ** step) for step in range(TAU_STEPS)]
    fits = [f for f in grid if f is not None]
    if not fits:
        return None
    best = min(fits, key=lambda f: f[1])
    # The grid is coarse for a large rise: refine the time constant between its
    # neighbours by golden-section search on log τ.
    low, high = math.log(best[0] / ratio), math.log(min(best[0] * ratio, longest))
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(REFINE_STEPS):
        a, b = high - golden * (high - low), low + golden * (high - low)
        fa, fb = fit_at(math.exp(a)), fit_at(math.exp(b))
        if fa is None or fb is None:
            break
        if fa[1] < fb[1]:
            high = b
            best = min(best, fa, key=lambda f: f[1])
        else:
            low = a
            best = min(best, fb, key=lambda f: f[1])
    tau, rss, coef, inverse = best
    rss_line = line[1]
    if rss <= 0 or rss_line <= rss:
        return None
    residuals = [yi - (coef[0] + coef[1] * (1 - math.exp(-xi / tau)) + coef[2] * xi)
                 for xi, yi in zip(x, y, strict=True)]
    correlation = autocorrelation_time(residuals)
    n_eff = n / correlation
    # Likelihood ratio counted in independent points; the warm-up adds a rise and a time
    # constant (the second is searched, so one more degree of freedom is allowed).
    if n_eff * math.log(rss_line / rss) < chi2_quantile(1.0 - WARMUP_ALPHA, 3):
        return None
    sigma2 = rss / max(n - 3, 1) * correlation
    growth_se = math.sqrt(max(inverse[2][2] * sigma2, 0.0))
    noise = max(mad(residuals) or 0.0, PAGE_MB)
    over = tau * math.log(max(abs(coef[1]) / noise, 1.0))
    left = sum(1 for v in x if v >= over)
    # Growth beside a warm-up counts only when clearly above zero and, for a warm-up not
    # over by the end, faster than the warm-up itself still grows there: otherwise it is
    # the fit sharing out the warm-up's own rise.
    still_rising = abs(coef[1]) / tau * math.exp(-span / tau)
    # What the fitted curve adds in each half of the stretch (the same length each).
    half = math.exp(-span / (2.0 * tau))
    earlier = coef[2] * span / 2.0 + coef[1] * (1.0 - half)
    later = coef[2] * span / 2.0 + coef[1] * (half - half * half)
    return Warmup(rise_mb=coef[1], tau_s=tau, over_s=over,
                  finished=left >= MIN_TREND_POINTS,
                  growth_after_significant=(coef[2] > z_one_sided(LEAK_ALPHA) * growth_se
                                            and coef[2] >= still_rising),
                  at_longest=tau >= longest / ratio,
                  slowing=earlier <= 0 or later < SLOWING_RATIO * earlier)


def settle(t: list[float], mb: list[float]) -> Settled:
    """The stretch's points to trend: troughs of a periodic release (or every point),
    with the rest of a finished warm-up taken out."""
    floor_t, floor_mb, releases = troughs(t, mb)
    period = ((floor_t[-1] - floor_t[0]) / (len(floor_t) - 1)
              if releases and len(floor_t) > 1 else None)
    warmup = fit_warmup(floor_t, floor_mb)
    points = list(zip(floor_t, floor_mb, strict=True))
    if warmup is not None:
        # What is left of the warm-up is taken out; a finished one is also left behind
        # (trend only from where its remainder is under the noise), so an error in the
        # fit cannot pass for growth. An unfinished one is marked (``unfinished_warmup``).
        origin = floor_t[0]
        start = origin + warmup.over_s if warmup.finished else origin
        points = [(ti, v) for ti, v in points if ti >= start]
        values = [v + warmup.rise_mb * math.exp(-(ti - origin) / warmup.tau_s)
                  for ti, v in points]
    else:
        values = [v for _, v in points]
    return Settled(t=[ti for ti, _ in points], mb=values, raw=[v for _, v in points],
                   releases=releases, period_s=period, warmup=warmup)


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
