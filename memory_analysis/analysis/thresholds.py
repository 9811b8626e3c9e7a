"""Every threshold the verdicts use, in one place, each with where it comes from.

The level table's bounds are the seed's. The statistical ones are error rates, not
amounts of memory: the analysis is judged on services it has never seen, so nothing
here is fitted to a test shape. Text that states a figure next to a comparison goes
through ``shown`` first, so a sentence never contradicts the figure it prints
("recovery 80 % ... is over 80 %" cannot happen).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from memory_analysis.levels import PEAK_CRITICAL_PERCENT, PEAK_WARNING_PERCENT

# -- the level table (seed) ---------------------------------------------------------------
# Peak memory as a share of the memory the service is judged against: at or above the
# warning bound, warning (a boundary belongs to the milder level); above the critical
# one, critical: PEAK_WARNING_PERCENT and PEAK_CRITICAL_PERCENT, imported above from
# ``memory_analysis.levels``, where the monitor reads them for its alert defaults
# without importing the analysis.
# Share of the load's growth that came back by the end of the cooldown.
RECOVERY_SAFE_PERCENT = 80.0   # above: safe
RECOVERY_CRITICAL_PERCENT = 60.0  # below: critical when the memory kept growing (a leak)
# Memory held after the load matters to sizing once it is as large as one band of the
# table (80 % to 90 %): a plateau that size moves the peak a whole level.
HELD_MATTERS_PERCENT_OF_LIMIT = PEAK_CRITICAL_PERCENT - PEAK_WARNING_PERCENT
# The host's own memory, used by everything on it, is reported beside the verdict (never
# as the service's peak) from the share at which the table would warn of a service's own:
# a host that full may slow, swap or OOM-kill the service whatever its own size. The
# monitor's default --warning alert is the same figure.
HOST_FULL_PERCENT = PEAK_WARNING_PERCENT

# -- noise floor of memory figures -----------------------------------------------------------
# Growth below the largest of these is noise: PSS of a Python service moves by about 2 MB
# at once when another Python process maps or unmaps the interpreter's files (measured),
# and larger services wobble in proportion.
NEGLIGIBLE_GROWTH_MB = 2.0
NEGLIGIBLE_GROWTH_SHARE = 0.02  # of the baseline
NOISE_SIGMAS = 3.0              # robust standard deviations of the baseline's wobble

# -- leak test -------------------------------------------------------------------------------
# One-sided error rates. A leak is called only on strong evidence (1 in 1000 for a
# service that does not grow); "no leak" needs the usual 95 % upper bound below the
# rate worth caring about.
LEAK_ALPHA = 0.001
NO_LEAK_ALPHA = 0.05
# The detection limit is the growth a run finds 95 % of the time.
DETECTION_POWER = 0.95
# A leak worth caring about would use up the headroom of the memory the service gets
# within three days: the stretch a service deployed before a weekend runs unattended.
# Growth slower than that is stated, but not called a leak (the last pages of a heap
# being touched for the first time creep up by a few kB a minute on a healthy service).
WORTH_CARING_HORIZON_H = 72.0
# Growth in every cycle but not given back; in the first cycle only: a plateau.
# Given back in the cooldown: more than half the load window's growth came back, the
# point halfway between "all kept" (a leak) and "all returned" (memory that follows the load).
RELEASED_SHARE = 0.5
# Growth smaller than this over the whole trended stretch is not called a leak, however
# steady: CPython's allocator takes memory for objects in arenas of 1 MiB (since 3.10),
# and a heap being touched for the first time creeps up by a few pages a minute long
# after warm-up. A leak of objects grows by arenas.
MIN_LEAK_GROWTH_MB = 1.0
# Fewest points a stretch of steady load needs for a trend.
MIN_TREND_POINTS = 6
# Evidence a definite verdict ("leak" or "no leak") needs: independent looks at the
# noise, after its autocorrelation is counted (independent points, or for a wander too
# slow to have many, the excursions of the residuals from the fit, each of which shows
# the wander's amplitude once). The noise's memory is estimated from the same series,
# and on a series only a few times longer than it comes out too short (Sokal's rule of
# thumb wants fifty times); with fewer than five looks, an interval's width is a guess,
# however narrow it looks.
MIN_INDEPENDENT_POINTS = 5.0
# "High confidence" needs this many degrees of freedom besides a bound ten times
# stricter: from 20 on, Student's t at the leak's error rate is within a third of the
# normal quantile, so a misjudged noise cannot double the interval.
HIGH_CONFIDENCE_DOF = 20.0
# A shape the data favour another over by a Bayes factor of 20 or more (a difference in
# the Bayesian information criterion of 2·ln 20 ≈ 6: "strong" evidence, Kass and
# Raftery 1995) is ruled out; shapes closer than that are all possible futures.
PLAUSIBLE_BIC = 2.0 * math.log(20.0)

# A load phase this many times longer is asked for when the shape of the growth, not the
# noise, left the verdict open (still slowing, or given back within the noise): each
# doubling shows whether the slowing goes on.
SHAPE_RUN_FACTOR = 2.0
# A sampling gap this many times the usual one means the monitor was kept waiting (a
# starved machine); when more than this share of the load's gaps are such, "high
# confidence" is not given.
LATE_SAMPLE_GAP = 1.5
LATE_SAMPLES_SHARE = 0.1

# -- shape recognition -------------------------------------------------------------------------
PAGE_MB = 4.0 / 1024  # the finest change a memory figure shows
# A release (the drop of a sawtooth) is a fall between two samples this many robust
# standard deviations of the sample-to-sample change (about 3 in 10 million by chance),
# and no smaller than glibc's mmap threshold: only a freed block of 128 KiB or more goes
# back to the system at once; smaller frees stay in the heap (the allocator breathing).
RELEASE_SIGMAS = 5.0
MMAP_THRESHOLD_MB = 128.0 / 1024
# A sample this many robust standard deviations from its neighbours' median is a spike.
SPIKE_SIGMAS = 5.0
# Releases needed before the memory counts as periodic and its troughs are trended: two
# teeth that fall back to one floor are a sawtooth, whatever its period.
MIN_RELEASES = 2
# A warm-up (a rise that levels off) is recognised when it explains the stretch better
# than a straight line at this error rate; it is over once what is left of it is smaller
# than the noise.
WARMUP_ALPHA = 0.01
# Growth whose rate in the later half of a steady stretch falls under this share of the
# earlier half's is slowing down like a warm-up. Under steady load a leak's rate holds
# as well as the request rate does, which fell by up to 14 % from the first half of a
# two-minute load to the second (measured on the demo and on a FastAPI app under
# uvicorn); a fall by a third is not the load's.
SLOWING_RATIO = 2.0 / 3.0

# -- scaling -----------------------------------------------------------------------------------
# Each parameter of a curve of memory against load must earn its place at this error rate.
SHAPE_ALPHA = 0.01


def z_one_sided(alpha: float) -> float:
    """The standard normal quantile exceeded with probability ``alpha``."""
    return NormalDist().inv_cdf(1.0 - alpha)


def chi2_quantile(p: float, dof: int) -> float:
    """Quantile of the chi-square distribution (Wilson–Hilferty, within 1 % for dof ≥ 1
    at the tail probabilities used here)."""
    z = NormalDist().inv_cdf(p)
    h = 2.0 / (9.0 * dof)
    return dof * (1.0 - h + z * h ** 0.5) ** 3


def shown(value: float, digits: int = 0) -> float:
    """``value`` as the text shows it: compare this, print this."""
    return round(value, digits)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-12:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log(1.0 - x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(value: float, dof: float) -> float:
    """Student's t distribution function with ``dof`` (> 0, not necessarily whole)."""
    tail = 0.5 * _betainc(dof / 2.0, 0.5, dof / (dof + value * value))
    return 1.0 - tail if value >= 0 else tail


def t_quantile(p: float, dof: float) -> float:
    """The value Student's t with ``dof`` degrees of freedom stays under with
    probability ``p`` (bisection on ``t_cdf``; the normal quantile for large dof)."""
    if dof > 1e6:
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, dof)
    low, high = 0.0, 1.0
    while t_cdf(high, dof) < p:
        high *= 2.0
    for _ in range(100):
        middle = (low + high) / 2.0
        if t_cdf(middle, dof) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0

# -- each process of the service ------------------------------------------------------------
# A worker is named as unbalanced when it grew under load beyond its noise floor, by more
# than its noise floor over the median of the others, and at least twice as much: the
# smallest ratio that says one worker did the growing rather than shared it unevenly.
IMBALANCE_FACTOR = 2.0
