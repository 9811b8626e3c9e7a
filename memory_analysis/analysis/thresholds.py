"""Every threshold the verdicts use, in one place, each with where it comes from.

The level table's bounds are the seed's. The statistical ones are error rates, not
amounts of memory: the analysis is judged on services it has never seen, so nothing
here is fitted to a test shape. Text that states a figure next to a comparison goes
through ``shown`` first, so a sentence never contradicts the figure it prints
("recovery 80 % ... is over 80 %" cannot happen).
"""

from __future__ import annotations

import math

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
# Floors a periodic release needs before they are trended: each floor, a period after
# the last, is one look at where memory falls back to (the release resets what the
# tooth's own wander did), and a verdict needs MIN_INDEPENDENT_POINTS looks.
MIN_TEETH = math.ceil(MIN_INDEPENDENT_POINTS)
# "High confidence" needs this many degrees of freedom besides a bound ten times
# stricter: from 20 on, Student's t at the leak's error rate is within a third of the
# normal quantile, so a misjudged noise cannot double the interval.
HIGH_CONFIDENCE_DOF = 20.0
# A shape the data favour another over by a Bayes factor of 20 or more (a difference in
# the Bayesian information criterion of 2·ln 20 ≈ 6: "strong" evidence, Kass and
# Raftery 1995) is ruled out; shapes closer than that are all possible futures.
PLAUSIBLE_BIC = 2.0 * math.log(20.0)
# Shapes within 2 of the lowest criterion have substantial support (Burnham and
# Anderson 2002): among them the simplest is the one a verdict speaks of.
SIMPLER_WITHIN_BIC = 2.0

# A load phase this many times longer is asked for when the shape of the growth, not the
# noise, left the verdict open (still slowing, or given back within the noise): each
# doubling shows whether the slowing goes on.
SHAPE_RUN_FACTOR = 2.0
# The longest load asked for, in times the run's own: past that, the noise's slow wander,
# measured on one short run, says too little about hours of it to size them, and the
# answer says "more than".
LONGEST_RUN_FACTOR = 1000.0
# A sampling gap this many times the usual one means the monitor was kept waiting (a
# starved machine); when more than this share of the load's gaps are such, "high
# confidence" is not given.
LATE_SAMPLE_GAP = 1.5
LATE_SAMPLES_SHARE = 0.1

# -- which endpoint keeps the memory (--attribute) -------------------------------------------
# Each endpoint's bytes per request are given with a two-sided 95 % interval: the usual
# width for an estimate stated beside others (not a verdict, so not LEAK_ALPHA's 1 in 1000).
ATTRIBUTE_ALPHA = 0.05
# A stretch sends enough requests for an endpoint keeping the mix's average bytes per
# request to grow twice the noise floor within it: a rise of twice the floor stands
# clear of it (an endpoint keeping more than the average, the leaking one, grows faster).
ATTRIBUTE_SIGNAL_FACTOR = 2.0
# And at least this many samples: four times the fewest a trend needs, so that the
# noise's autocorrelation can be measured on the stretch's own residuals.
ATTRIBUTE_MIN_SAMPLES = 4 * MIN_TREND_POINTS
# The whole attribution takes at most this long by default (--attribute-max): the
# length of a --quick run's load phase three times over, under the default load phase.
ATTRIBUTE_MAX_S = 90.0

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

# -- shapes of growth (growth.py) -------------------------------------------------------------
# A warm-up's time constant or a logarithm's offset this many stretch lengths long bends
# the curve by under 3 % over the run (1 − e^(−1/20)): as straight as a run can show, so
# longer ones are the linear shape.
LONGEST_SPANS = 20.0
# A warm-up with a leak behind it may have a time constant up to the stretch's length:
# beyond it, the warm-up and the leak's rate trade off so fully that the fit cannot tell
# them apart (the profile over the time constant then widens the leak's interval instead).
FINISHED_WARMUP_SPANS = 1.0
# A warm-up is over after four time constants (98 % of its rise): what comes after is
# judged on its own.
WARMUP_OVER_TIME_CONSTANTS = 4.0
# A leak behind a warm-up is told from the warm-up only when the warm-up is over within
# the load: a time constant up to a quarter of it.
OVER_WITHIN = 1.0 / WARMUP_OVER_TIME_CONSTANTS
# A bend the run can see: a warm-up's time constant (or a logarithm's offset) up to the
# stretch's length, over which its rate falls by a third or more (e^(−1), or 1/2 for the
# logarithm). Only such a bend stands against calling a straight-looking rise a leak;
# a longer one cannot be told from a line in the run, and a leak is what a line is.
BENDS_WITHIN = 1.0
# Samples either side that judge whether one sample is a spike (a Hampel filter's usual
# half-window: seven samples, so one spike is a minority of its window, and two in a row).
SPIKE_HALF_WINDOW = 3
# The cooldown's end level is the median of its last quarter: one late GC or PSS read
# should not decide it, and the quarter is after most releases (which take seconds).
COOLDOWN_END_SHARE = 0.25

# -- a load long enough to tell (--load-test auto) ---------------------------------------------
# The cap when none is given: 15 minutes of load. A leak too slow to show by then is slower
# than a load test of reasonable length settles; the answer then says what would.
AUTO_MAX_S = 900.0
# No look before the quick run's 30 s of load: before that a verdict rarely has the five
# independent samples it needs, and every look taken costs all the others their share of
# the error rates.
AUTO_FIRST_LOOK_S = 30.0
# Each look comes after 1.5 times the load of the one before. A line's slope error falls
# as the length to the power 3/2, so each look's detection limit is about 1.5^-1.5 = 0.54
# of the last one's: about half. Looks closer together tell little more than the one
# before and divide the error rates among more looks (up to 15 min: 9 looks at 1.5, 14
# at 1.25).
AUTO_LOOK_FACTOR = 1.5
# A look stops the load on "leak" only from the default run's two minutes of load (the
# runner's default --load-test) on, and the looks fall on it: the shortest load over
# which bench_verdicts.py measured no healthy shape called a leak. Over a shorter one a
# slow warm-up (a time constant of 5 min) is as straight as a leak: bench_auto.py, with
# leaks stopped on from 30 s, ended 2 of 38 healthy cases "leak" at 30-45 s, both such
# warm-ups. "No leak" may stop any look.
AUTO_LEAK_FROM_S = 120.0

# -- sizing (the seed's formulas) ----------------------------------------------------------------
MIN_FACTOR = 1.5          # minimum memory: the peak plus a safety margin of half of it
RECOMMENDED_FACTOR = 2.0  # recommended: the peak doubled, room for a load twice as heavy

# -- plans (a virtual machine's operating system) ------------------------------------------------
# On a virtual machine the operating system keeps part of the plan's memory from the service;
# a plan is said to hold a size only with that part taken off. By default (a catalog of VMs
# may give its own figure, `os_memory_mb`) the part is VM_OS_SHARE of the plan's memory plus
# VM_OS_USERLAND_MB:
# - the kernel's share grows with the memory: its page descriptors alone (a 64-byte `struct
#   page` for each 4 KiB page, on x86-64 and arm64 alike) are 1/64 = 1.56 % of it, taken at
#   boot and never counted in MemTotal. On the Linux 6.18 virtual machine this suite was
#   built on, 470.8 MiB of its 24 GiB (192 memory blocks of 128 MiB, all online) never
#   reached MemTotal: 1.92 %, the descriptors with the kernel's image and boot
#   reservations. Rounded up to 2 %.
# - an idle distribution's userland on a stock cloud image: systemd, journald, udev, the
#   network and time daemons, sshd and the provider's guest agent (amazon-ssm-agent,
#   google-guest-agent, walinuxagent), with the kernel's own slab and page tables at idle.
#   By the resident sizes of the daemons these images start, `free` shows about 150 MB used
#   on a minimal image (Amazon Linux 2023) to 250 MB on a fuller one (Ubuntu Server 24.04
#   with snapd and the SSM agent): 200 MB is the middle. An estimate, not measured by this
#   suite on those images; a catalog of VMs whose image was measured gives `os_memory_mb`.
# So a 1 GiB VM leaves about 800 MB to the service, and a 256 GiB one about 251 GiB.
VM_OS_SHARE = 0.02
VM_OS_USERLAND_MB = 200.0

# -- advice ------------------------------------------------------------------------------------
# Heavy endpoints are worth a note when their p95 is this many times the light ones'
# (a tail that far from the rest is a different kind of work, not noise) and above a
# floor a user would notice (200 ms: the point where a page feels slow).
HEAVY_RATIO = 3.0
HEAVY_FLOOR_MS = 200.0
# An error rate from 1 % on is worth a note of its own (one request in a hundred).
ERROR_RATE_NOTE = 0.01

# -- scaling -----------------------------------------------------------------------------------
# Each parameter of a curve of memory against load must earn its place at this error rate.
SHAPE_ALPHA = 0.01
# The measured peak load is priced as served by this many instances: one, and the load
# halved, quartered and split eight ways (each instance keeping its own baseline). Powers of
# two show in four rows where the baseline each instance adds starts to outweigh the load
# taken off it; past eight, an instance's share falls below the lowest step of the steps
# the manual suggests (--users-steps 5,10,20,40: 40 / 8 = 5), where the fit is extrapolated.
INSTANCE_COUNTS = (1, 2, 4, 8)


# -- the memory gate (compare --fail-on-regression) ----------------------------------------
# Two runs of one service never measure the same figures: a change must be larger than
# the percentage the user allows AND than the runs' own noise to fail a build.
# A memory figure of one run (peak, held memory) is uncertain by one standard deviation:
# the larger of the run's noise floor over NOISE_SIGMAS (the floor is NOISE_SIGMAS
# robust standard deviations of its baseline's wobble, or the 2 MB step of PSS, or 2 %
# of the baseline: one such deviation is a third of it) and the robust standard
# deviation of the samples the figure rests on: the load's last PLATEAU_SHARE for the
# peak; the baseline and the cooldown's last PLATEAU_SHARE (the samples whose medians
# held memory is made of) for held memory. The same share as the cooldown's end level.
PLATEAU_SHARE = COOLDOWN_END_SHARE
# The two runs' deviations add in quadrature (sqrt(a² + b²)); a change counts as beyond
# the noise past the one-sided normal quantile at this error rate (3.09 deviations):
# the leak test's own, so noise alone fails a build about once in a thousand
# comparisons of one figure.
REGRESSION_ALPHA = LEAK_ALPHA
# The leak rate carries its own 95 % interval (``slope_ci_mb_per_min``): a new rate is
# beyond the noise when its whole interval lies above the base's (two such intervals
# apart is a difference at well under 1 % by chance). A base whose interval reaches zero
# grew by nothing measurable, so a percentage of it means nothing: then the new rate is
# worse only when its own run calls it a leak (growth that would use up the headroom
# within WORTH_CARING_HORIZON_H).


# -- each process of the service ------------------------------------------------------------
# A worker is named as unbalanced when it grew under load beyond its noise floor, by more
# than its noise floor over the median of the others, and at least twice as much: the
# smallest ratio that says one worker did the growing rather than shared it unevenly.
IMBALANCE_FACTOR = 2.0


def shown(value: float, digits: int = 0) -> float:
    """``value`` as the text shows it: compare this, print this."""
    return round(value, digits)

# -- the service run inside a memory limit (--memory-limit, --find-minimum) -------------------
# --find-minimum's rounds under a limit, after the unlimited one. Bisection halves the span
# between the service's floor and peak × 1.5 each round: five rounds find the minimum to
# 1/32 of it (3 % of a peak-sized span), a precision finer than two runs of the same load
# agree on their peaks.
FIND_MINIMUM_ROUNDS = 5
MAX_ROUNDS = 12
# A limited round starts the service afresh, waits this long without load (it must have
# started inside the limit), sends the unlimited round's load, and watches this long after.
ROUND_BASELINE_S = 5.0
ROUND_COOLDOWN_S = 5.0
# A limit serves the load when its round's p95 latency is within this share of the
# unlimited round's (the 20 %): reclaim under a limit shows as tail latency
# before any OOM kill.
ROUND_P95_TOLERANCE = 0.20
# ... beyond the two rounds' own noise: each p95 is uncertain by its per-second values'
# standard error, and a round is slower only beyond this many of the two together. Neither
# error is the safe one to favour: a round wrongly "served" lowers the minimum, one wrongly
# "slower" raises it (and costs money for good), so both are held to the one-sided 1 in
# 20, not the leak test's 1 in 1000 (which would let a round half again slower pass).
ROUND_NOISE_SIGMAS = 1.645
# Errors beyond the unlimited round's rate: more than the expected count plus this many
# Poisson standard deviations of it (with no errors unlimited, any error counts).
ROUND_ERROR_SIGMAS = 3.09
