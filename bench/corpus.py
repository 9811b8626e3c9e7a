"""A corpus of memory series with known answers, for the analysis benchmark and tests.

Each case is a service's memory as the monitor would sample it through baseline, load
(in user steps, or repeated cycles) and cooldown: a shape (what the service does) plus
noise (what sampling sees). The noise is modelled on real runs (the bundled demo and a
FastAPI app under uvicorn with two workers, sampled every 0.5 s): neighbouring samples
are strongly alike (autocorrelation time 8 to 45 samples), figures move in 4 KiB pages,
and the level wanders by 0.002 to 0.04 MB. The corpus scales that wander up to 0.5 MB.

    from corpus import Case, healthy_cases, leak_cases
    for case in healthy_cases(seed=1):
        samples = case.samples()       # monitor samples, tagged with phase/users/cycle
        case.expect                    # "healthy" or "leak"
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from memory_analysis.analysis.leak import LoadSegment, served_seconds

PAGE_MB = 4.0 / 1024
DEFAULT_RUN = {"baseline_s": 30.0, "load_s": 120.0, "cooldown_s": 30.0}
QUICK_RUN = {"baseline_s": 15.0, "load_s": 30.0, "cooldown_s": 15.0}


@dataclass(frozen=True)
class Moment:
    """Where the run is at one sample, for a shape to answer with memory (MB)."""

    t: float             # seconds since the monitor started
    phase: str
    users: int           # users sending requests now (0 outside load)
    cycle: int
    loaded_s: float      # seconds of load so far (requests sent grow with it)
    since_load_s: float  # seconds since the first load began (0 before)
    max_users: int       # most users so far


Shape = Callable[[Moment], float]


@dataclass(frozen=True)
class Noise:
    """Stationary AR(1) wander of standard deviation ``sd_mb`` with per-sample
    correlation ``phi``, rounded to pages."""

    sd_mb: float = 0.05
    phi: float = 0.9

    def series(self, count: int, rng: random.Random) -> list[float]:
        out, level = [], rng.gauss(0.0, self.sd_mb)
        innovation = self.sd_mb * math.sqrt(1.0 - self.phi ** 2)
        for _ in range(count):
            out.append(level)
            level = self.phi * level + rng.gauss(0.0, innovation)
        return out


@dataclass
class Case:
    name: str
    shape: Shape
    expect: str                     # "healthy" or "leak"
    noise: Noise = field(default_factory=Noise)
    run: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RUN))
    steps: list[int] | None = None  # user steps in the load phase
    cycles: int = 1
    users: int = 20
    interval_s: float = 0.5
    seed: int = 1
    rps_per_user: float = 50.0
    spikes: int = 0                 # isolated one-sample spikes
    spike_mb: float = 0.0
    leak_mb_per_min: float = 0.0    # for leak cases: the true rate
    tags: dict[str, Any] = field(default_factory=dict)
    family: str = ""                # what the bench groups by ("" : the name's first words)

    def schedule(self) -> list[tuple[str, float, int, int]]:
        """(phase, seconds, users, cycle) in order."""
        out = [("baseline", self.run["baseline_s"], 0, 1)]
        steps = self.steps or [self.users]
        for cycle in range(1, self.cycles + 1):
            for users in steps:
                out.append(("load", self.run["load_s"] / len(steps), users, cycle))
            out.append(("cooldown", self.run["cooldown_s"], 0, cycle))
        return out

    def samples(self) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        schedule = self.schedule()
        total = sum(seconds for _, seconds, _, _ in schedule)
        count = int(round(total / self.interval_s))
        noise = self.noise.series(count, rng)
        spike_at = set(rng.sample(range(count), self.spikes)) if self.spikes else set()
        out: list[dict[str, Any]] = []
        t, loaded, first_load, most = 0.0, 0.0, None, 0
        index = 0
        for phase, seconds, users, cycle in schedule:
            end = t + seconds
            while t < end - 1e-9 and index < count:
                if phase == "load" and first_load is None:
                    first_load = t
                most = max(most, users)
                moment = Moment(t=t, phase=phase, users=users, cycle=cycle, loaded_s=loaded,
                                since_load_s=0.0 if first_load is None else t - first_load,
                                max_users=most)
                mb = self.shape(moment) + noise[index]
                if index in spike_at:
                    mb += self.spike_mb
                mb = round(mb / PAGE_MB) * PAGE_MB
                out.append(_sample(t, phase, users, cycle, mb))
                t += self.interval_s
                if phase == "load":
                    loaded += self.interval_s
                index += 1
        return out

    def load_segments(self) -> list[dict[str, Any]]:
        """The load tester's runs as the runner would describe them."""
        out, t = [], 0.0
        for phase, seconds, users, cycle in self.schedule():
            if phase == "load":
                out.append({"start_t": t, "end_t": t + seconds, "users": users, "cycle": cycle,
                            "requests": int(users * self.rps_per_user * seconds),
                            "mean_in_flight": float(users)})
            t += seconds
        return out


def _sample(t: float, phase: str, users: int, cycle: int, mb: float) -> dict[str, Any]:
    return {"t": round(t, 3), "time": 1_700_000_000 + t, "phase": phase, "load_users": users,
            "cycle": cycle,
            "system": {"percent": 10.0, "used_mb": 2400.0, "available_mb": 21600.0,
                       "total_mb": 24000.0},
            "process": {"rss_mb": round(mb + 6, 3), "pss_mb": round(mb, 3), "hwm_mb": None,
                        "tree_mb": round(mb, 3), "tree_service_mb": round(mb, 3),
                        "children": 0},
            "cgroup": None, "python": None}


# -- shapes ----------------------------------------------------------------------------------

def flat(base: float) -> Shape:
    return lambda m: base


def warmup(base: float, rise: float, tau_s: float) -> Shape:
    """A cache or pool that fills under load and keeps what it holds."""
    return lambda m: base + rise * (1 - math.exp(-m.loaded_s / tau_s))


def decreasing(base: float, drop: float, tau_s: float) -> Shape:
    """Memory given back during the load (a cache expiring, the heap trimmed)."""
    return lambda m: base - drop * (1 - math.exp(-m.loaded_s / tau_s))


def sawtooth(inner: Shape, amplitude: float, period_s: float, phase: float,
             under_load_only: bool = False) -> Shape:
    """Memory that rises and is released every ``period_s`` (batch buffers, a GC)."""
    def shape(m: Moment) -> float:
        if under_load_only and m.phase != "load":
            return inner(m)
        return inner(m) + amplitude * (((m.t / period_s) + phase) % 1.0)
    return shape


def held_per_user(base: float, mb_per_user: float) -> Shape:
    """Per-user memory (sessions, connections) that stays once allocated."""
    return lambda m: base + mb_per_user * m.max_users


def per_user(base: float, mb_per_user: float, exponent: float = 1.0) -> Shape:
    """Memory that follows the users in flight and is given back when they go."""
    return lambda m: base + mb_per_user * (m.users ** exponent)


def backlog(base: float, mb_per_min: float, drain_tau_s: float) -> Shape:
    """A queue that grows under overload and drains in the cooldown: follows the load."""
    def shape(m: Moment) -> float:
        if m.phase == "load":
            return base + mb_per_min * m.loaded_s / 60.0
        grown = mb_per_min * m.loaded_s / 60.0
        return base + grown * math.exp(-max(m.since_load_s - m.loaded_s, 0.0) / drain_tau_s)
    return shape


def leak_per_request(inner: Shape, mb_per_min: float) -> Shape:
    """Memory kept by every request: grows under load only."""
    return lambda m: inner(m) + mb_per_min * m.loaded_s / 60.0


def leak_per_time(inner: Shape, mb_per_min: float) -> Shape:
    """Memory kept by a timer or background task: grows from the start, load or not."""
    return lambda m: inner(m) + mb_per_min * m.t / 60.0


def log_growth(base: float, c_mb: float, s_s: float) -> Shape:
    """``base + c·ln(1 + x/s)``, x in seconds of load: a cache filling on a long-tailed
    key distribution (distinct keys grow like the logarithm of the requests). Slows
    forever and never levels off; 72 h adds ``c·ln((s + x + 72 h)/(s + x))``."""
    return lambda m: base + c_mb * math.log1p(m.loaded_s / s_s)


def power_growth(base: float, c_mb: float, power: float) -> Shape:
    """``base + c·x^p`` (0 < p < 1), x in seconds of load: distinct keys of a heavy-tailed
    distribution (p about 0.2 to 0.5; a square root reaches gigabytes in days)."""
    return lambda m: base + c_mb * m.loaded_s ** power


def step(base: float, jump_mb: float, at_loaded_s: float) -> Shape:
    """Memory loaded once (a model, a lookup table) ``at_loaded_s`` seconds into the
    load, then flat: kept through the cooldown."""
    return lambda m: base + (jump_mb if m.loaded_s >= at_loaded_s else 0.0)


# -- growth against the headroom a case is judged against ---------------------------------------

HORIZON_S = 72 * 3600.0  # the verdict's horizon: 72 h more of the same load


def target_memory_mb(peak_mb: float) -> float:
    """The plan a case is judged against: the power of two at or above twice its peak,
    as a user passing --target-memory for a plan that would hold it would."""
    return float(2 ** math.ceil(math.log2(2 * peak_mb)))


def scaled_to_headroom(base: float, unit: Callable[[float], float], share: float,
                       load_s: float) -> tuple[float, float]:
    """(c, share reached): the smallest factor ``c`` for the growth ``base + c·unit(x)``
    (x in seconds of load, ``unit(0) = 0``, rising) whose next 72 h after a load of
    ``load_s`` seconds add ``share`` times the headroom (``target_memory_mb(peak) -
    peak``, the peak at the end of the load); and the share reached (the same, but for
    rounding)."""
    ahead = unit(load_s + HORIZON_S) - unit(load_s)
    target = target_memory_mb(base)
    while True:
        # share·(target - base - c·unit(load_s)) = c·ahead
        c = share * (target - base) / (ahead + share * unit(load_s))
        peak = base + c * unit(load_s)
        if target_memory_mb(peak) <= target:
            return c, c * ahead / (target - peak)
        target *= 2


def add_ramp(samples: list[dict[str, Any]], mb_per_min: float,
             segments: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A copy of monitor samples (a recorded trace's) with a leak of ``mb_per_min`` added
    and kept after. With the trace's load ``segments`` (the runner's, with per-second
    counts), memory kept per request: growing with the requests served so far, at
    ``mb_per_min`` for the run's mean request rate (a request rate that sags on a busy
    machine slows it, as it slows a real leak). Without them, growing with the seconds of
    load (only while the phase is "load"): a timer's leak. Every figure of the service's
    memory moves with it (the process tree, RSS, the cgroup's usage and working set, the
    host's used share); the high-water marks are raised where the new figures pass
    them."""
    served = served_seconds([LoadSegment.of(s) for s in segments or []])
    out: list[dict[str, Any]] = []
    load_s, last_t, last_phase = 0.0, None, None
    rss_top = usage_top = -math.inf
    for sample in samples:
        t = float(sample.get("t", 0.0))
        if last_t is not None and last_phase == "load":
            load_s += max(t - last_t, 0.0)
        last_t, last_phase = t, sample.get("phase")
        if served is not None:
            ramp = mb_per_min / 60.0 * served[0](t)
        else:
            ramp = mb_per_min * load_s / 60.0
        new = dict(sample)
        process = dict(sample.get("process") or {})
        for key in ("tree_service_mb", "tree_mb", "rss_mb", "pss_mb"):
            if process.get(key) is not None:
                process[key] = round(process[key] + ramp, 3)
        if process.get("rss_mb") is not None:
            rss_top = max(rss_top, process["rss_mb"])
            if process.get("hwm_mb") is not None:
                process["hwm_mb"] = round(max(process["hwm_mb"], rss_top), 3)
        new["process"] = process if sample.get("process") is not None else sample.get("process")
        if sample.get("cgroup"):
            group = dict(sample["cgroup"])
            for key in ("working_set_mb", "usage_mb"):
                if group.get(key) is not None:
                    group[key] = round(group[key] + ramp, 3)
            if group.get("usage_mb") is not None:
                usage_top = max(usage_top, group["usage_mb"])
                if group.get("peak_mb") is not None:
                    group["peak_mb"] = round(max(group["peak_mb"], usage_top), 3)
                if group.get("limit_mb"):
                    group["percent"] = round(100.0 * group["usage_mb"] / group["limit_mb"], 2)
            new["cgroup"] = group
        if sample.get("system"):
            system = dict(sample["system"])
            if system.get("total_mb") and system.get("percent") is not None:
                system["percent"] = round(system["percent"] + 100.0 * ramp
                                          / system["total_mb"], 2)
            if system.get("used_mb") is not None:
                system["used_mb"] = round(system["used_mb"] + ramp, 3)
            if system.get("available_mb") is not None:
                system["available_mb"] = round(system["available_mb"] - ramp, 3)
            new["system"] = system
        out.append(new)
    return out


# -- the corpus --------------------------------------------------------------------------------

NOISES = tuple(Noise(sd, phi) for sd in (0.05, 0.2, 0.5) for phi in (0.8, 0.95))
BASES = (50.0, 200.0, 1000.0, 2000.0)


def healthy_cases(seed: int = 1, run: dict[str, float] | None = None) -> Iterator[Case]:
    """Services that do not leak, in every shape the corpus knows."""
    rng = random.Random(seed)
    run = dict(run or DEFAULT_RUN)
    third = run["load_s"] / 3.0

    def case(name: str, shape: Shape, **kw: Any) -> Case:
        return Case(name=name, shape=shape, expect="healthy", run=dict(run),
                    noise=rng.choice(NOISES), seed=rng.randrange(1 << 30), **kw)

    for base in BASES:
        yield case(f"flat {base:.0f} MB", flat(base))
        for tau in (0.5, 3.0, 10.0, third / 2, third):
            for rise in (3.0, 0.3 * base):
                yield case(f"warm-up +{rise:.0f} MB tau {tau:.0f} s on {base:.0f} MB",
                           warmup(base, rise, tau), tags={"tau_s": tau})
        yield case(f"decreasing on {base:.0f} MB", decreasing(base + 20, 15, 20.0))
        yield case(f"spikes on {base:.0f} MB", warmup(base, 10, 3.0), spikes=6,
                   spike_mb=rng.choice((20.0, 100.0)))
        yield case(f"backlog that drains on {base:.0f} MB", backlog(base, 4.0, 5.0))
    for period in (2.0, 5.0, 10.0, 20.0):
        for offset in range(20):
            base = rng.choice(BASES)
            yield case(f"sawtooth {period:.0f} s phase {offset / 20:.2f}",
                       sawtooth(warmup(base, 5.0, 3.0), rng.choice((5.0, 30.0)), period,
                                offset / 20.0), tags={"period_s": period})
    for held in (0.0, 2.0):
        for repeat in range(10):
            base = rng.choice(BASES)
            yield case(f"user steps, {held:.0f} MB held per user (#{repeat})",
                       held_per_user(base, held), steps=[5, 10, 20, 40])
            yield case(f"user steps, {held:.0f} MB per user in flight (#{repeat})",
                       per_user(base, held), steps=[5, 10, 20, 40])
    for repeat in range(5):
        base = rng.choice(BASES)
        yield case(f"cycles, warm-up plateau (#{repeat})", warmup(base, 20.0, 10.0), cycles=3)
    yield from _unmodelled_healthy(case, rng, run)


#: Shares of the headroom the healthy slowing growths add in the 72 h after the run.
HEALTHY_SHARES = (0.05, 0.25)
LOG_SCALES_S = (5.0, 30.0, 120.0)
HEALTHY_POWERS = (0.22, 0.27, 0.32)
SLOW_SAWTOOTH_PERIODS_S = (30.0, 60.0, 90.0, 120.0)
SLOW_WARMUP_TAUS_S = (60.0, 120.0, 300.0)


def _unmodelled_healthy(case: Callable[..., Case], rng: random.Random,
                        run: dict[str, float]) -> Iterator[Case]:
    """Healthy shapes the engine has no special model for (issue 15, item 7): growth
    that slows without levelling off but stays within the headroom over 72 h, slow
    sawtooth under load, one-off steps, warm-ups with time constants of minutes."""
    load_s = run["load_s"]
    for s_s in LOG_SCALES_S:
        for base in BASES:
            for share in HEALTHY_SHARES:
                c, reached = scaled_to_headroom(base, lambda x, s_s=s_s: math.log1p(x / s_s),
                                                share, load_s)
                yield case(f"log growth {c:.2f}·ln(1 + x/{s_s:.0f} s) on {base:.0f} MB",
                           log_growth(base, c, s_s),
                           family=f"logarithmic growth, s {s_s:.0f} s",
                           tags={"c_mb": c, "s_s": s_s, "share_72h": reached})
    for power in HEALTHY_POWERS:
        for base in BASES:
            for share in HEALTHY_SHARES:
                c, reached = scaled_to_headroom(base, lambda x, p=power: x ** p, share,
                                                load_s)
                yield case(f"power growth {c:.3f}·x^{power:g} on {base:.0f} MB",
                           power_growth(base, c, power), family=f"power growth, p {power:g}",
                           tags={"c_mb": c, "power": power, "share_72h": reached})
    for period in SLOW_SAWTOOTH_PERIODS_S:
        for offset in range(6):
            base = rng.choice(BASES)
            inner = flat(base) if offset % 2 else warmup(base, 5.0, 3.0)
            yield case(f"sawtooth {period:.0f} s under load phase {offset / 6:.2f} on "
                       f"{base:.0f} MB",
                       sawtooth(inner, rng.choice((5.0, 30.0)), period, offset / 6.0,
                                under_load_only=True),
                       family=f"sawtooth {period:.0f} s under load",
                       tags={"period_s": period})
    for at in (0.1, 0.2, 0.35, 0.5, 0.6):
        for base in BASES:
            jump = rng.uniform(5.0, 40.0)
            yield case(f"one-off step +{jump:.0f} MB at {at:.0%} of the load on {base:.0f} MB",
                       step(base, jump, at * load_s), family="one-off step",
                       tags={"jump_mb": jump, "at_share": at})
    for tau in SLOW_WARMUP_TAUS_S:
        for base in BASES:
            for rise in (3.0, 0.3 * base):
                yield case(f"warm-up +{rise:.0f} MB tau {tau:.0f} s on {base:.0f} MB",
                           warmup(base, rise, tau), tags={"tau_s": tau},
                           family=f"warm-up, time constant {tau:.0f} s")


LEAK_RATES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


def leak_cases(seed: int = 1, run: dict[str, float] | None = None,
               rates: tuple[float, ...] = LEAK_RATES) -> Iterator[Case]:
    """Services that leak at known rates, by request or by time, some behind a warm-up."""
    rng = random.Random(seed)
    run = dict(run or DEFAULT_RUN)
    for rate in rates:
        for base in BASES:
            for kind, leak in (("per request", leak_per_request), ("per time", leak_per_time)):
                for front in ("none", "warm-up"):
                    inner = flat(base) if front == "none" else warmup(base, 0.2 * base, 3.0)
                    yield Case(name=f"{rate:g} MB/min {kind} on {base:.0f} MB, {front}",
                               shape=leak(inner, rate), expect="leak", run=dict(run),
                               noise=rng.choice(NOISES), seed=rng.randrange(1 << 30),
                               leak_mb_per_min=rate, tags={"kind": kind})


#: How far past the headroom the square-root leaks go in the 72 h after the run.
SQRT_LEAK_SHARES = (2.0, 5.0, 20.0)
SAWTOOTH_LEAK_RATES = (1.0, 2.0, 5.0, 10.0, 20.0)


def shaped_leak_cases(seed: int = 1, run: dict[str, float] | None = None) -> Iterator[Case]:
    """Leaks whose shape the engine does not model as a line: square-root growth that
    would use up the headroom within 72 h (a cache of distinct keys reaching gigabytes
    in days: it slows, yet is a leak), and a linear leak per request under a 60 s
    sawtooth (a leak behind periodic release)."""
    rng = random.Random(seed)
    run = dict(run or DEFAULT_RUN)

    def case(name: str, shape: Shape, **kw: Any) -> Case:
        return Case(name=name, shape=shape, expect="leak", run=dict(run),
                    noise=rng.choice(NOISES), seed=rng.randrange(1 << 30), **kw)

    for share in SQRT_LEAK_SHARES:
        for base in BASES:
            c, reached = scaled_to_headroom(base, math.sqrt, share, run["load_s"])
            yield case(f"sqrt growth {c:.2f}·x^0.5 on {base:.0f} MB",
                       power_growth(base, c, 0.5),
                       family=f"square-root growth, {share:g}x the headroom in 72 h",
                       tags={"c_mb": c, "power": 0.5, "share_72h": reached})
    for rate in SAWTOOTH_LEAK_RATES:
        for base in BASES:
            offset = rng.randrange(6) / 6.0
            yield case(f"{rate:g} MB/min per request under a 60 s sawtooth on {base:.0f} MB",
                       leak_per_request(sawtooth(flat(base), rng.choice((5.0, 30.0)), 60.0,
                                                 offset, under_load_only=True), rate),
                       family=f"linear leak under a 60 s sawtooth, {rate:g} MB/min",
                       leak_mb_per_min=rate, tags={"kind": "per request", "period_s": 60.0})
