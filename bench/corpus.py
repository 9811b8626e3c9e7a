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
