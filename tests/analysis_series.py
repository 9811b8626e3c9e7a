"""Hand-built monitor samples for the analysis tests: memory as a function of time."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

Curve = Callable[[float], float]


def samples(baseline: Curve, load: Curve, cooldown: Curve, *, baseline_s: float = 30,
            load_s: float = 120, cooldown_s: float = 30, interval_s: float = 0.5,
            noise_mb: float = 0.3, seed: int = 1, system_percent: float = 40.0,
            rss_extra_mb: float = 6.0, users: int | None = None,
            cgroup_limit_mb: float | None = None) -> list[dict[str, Any]]:
    """Samples every ``interval_s`` through three phases. Each curve gives service memory
    (MB) at seconds since the start of its own phase; ``noise_mb`` of Gaussian jitter is
    added. The main process's RSS is the tree figure plus ``rss_extra_mb`` (shared pages
    PSS divides), and its VmHWM the running maximum of that RSS."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    hwm = 0.0
    t = 0.0
    for phase, curve, length in (("baseline", baseline, baseline_s), ("load", load, load_s),
                                 ("cooldown", cooldown, cooldown_s)):
        start = t
        while t < start + length - 1e-9:
            mb = curve(t - start) + rng.gauss(0.0, noise_mb)
            rss = mb + rss_extra_mb
            hwm = max(hwm, rss)
            sample: dict[str, Any] = {
                "t": round(t, 3), "time": 1_700_000_000 + t, "phase": phase,
                "load_users": (users or 0) if phase == "load" else 0,
                "system": {"percent": system_percent, "used_mb": 4000.0,
                           "available_mb": 4000.0, "total_mb": 8000.0},
                "process": {"rss_mb": round(rss, 3), "pss_mb": round(mb, 3),
                            "uss_mb": round(mb - 2, 3),
                            "hwm_mb": round(hwm, 3), "tree_mb": round(mb, 3),
                            "tree_rss_mb": round(rss, 3), "tree_pss_mb": round(mb, 3),
                            "children": 0},
                "cgroup": None, "python": None,
            }
            if cgroup_limit_mb is not None:
                working_set = mb + 20
                sample["cgroup"] = {"usage_mb": working_set + 30, "working_set_mb": working_set,
                                    "limit_mb": cgroup_limit_mb,
                                    "percent": round(working_set * 100 / cgroup_limit_mb, 2),
                                    "peak_mb": None, "oom_kills": 0}
            out.append(sample)
            t += interval_s
    return out


def flat(level: float) -> Curve:
    return lambda _t: level


def linear(start: float, mb_per_s: float) -> Curve:
    return lambda t: start + mb_per_s * t


def saturating(start: float, rise: float, tau_s: float) -> Curve:
    """Rises by ``rise`` MB towards a plateau with time constant ``tau_s``: a cache filling."""
    return lambda t: start + rise * (1 - math.exp(-t / tau_s))


def decaying(start: float, drop: float, tau_s: float) -> Curve:
    return lambda t: start - drop * (1 - math.exp(-t / tau_s))
