"""A load phase as long as the leak test needs (``--load-test auto[:MAX]``): when to look,
whether a look settles it, and what the run's ``run_length`` block says.

The load goes on at the same steady load; at each look the leak test is run on what the
load has produced so far, and the load ends at the first look that says "leak" or "no
leak", or at the cap. Looking again and again at a growing run and stopping when one
look is definite would raise the error rates of a single verdict: each look decides at
its share of them (``LEAK_ALPHA`` and ``NO_LEAK_ALPHA`` divided by the number of looks
the cap allows, Bonferroni), and so does the final verdict of a run that looked.
Pure: plain data in and out.
"""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.analysis.thresholds import (
    AUTO_FIRST_LOOK_S,
    AUTO_LEAK_FROM_S,
    AUTO_LOOK_FACTOR,
)
from memory_analysis.numbers import seconds as _minutes

DEFINITE = ("leak", "no leak")


def look_times(max_s: float, first_s: float = AUTO_FIRST_LOOK_S,
               factor: float = AUTO_LOOK_FACTOR, anchor_s: float = AUTO_LEAK_FROM_S
               ) -> list[float]:
    """Seconds of load after which the leak test looks: ``anchor_s`` times the powers of
    ``factor`` (so that one look falls on it), from ``first_s`` on, and the cap
    ``max_s`` last (where the load ends anyway)."""
    at = anchor_s
    while at / factor >= first_s:
        at /= factor
    times = []
    while at < max_s - 1e-9:
        times.append(at)
        at *= factor
    times.append(max_s)
    return times


def settles(leak: dict[str, Any], load_s: float) -> bool:
    """Whether a look after ``load_s`` of load ends the load: "no leak" always, "leak"
    from ``AUTO_LEAK_FROM_S`` on (a slow warm-up is as straight as a leak before)."""
    verdict = leak.get("verdict")
    return verdict == "no leak" or (verdict == "leak" and load_s >= AUTO_LEAK_FROM_S - 1.0)


def look_record(load_s: float, leak: dict[str, Any]) -> dict[str, Any]:
    """What the report keeps of one look: after how much load, the verdict, the
    detection limit against the rate worth caring about, and the load the test then
    expected to need."""
    return {"load_s": round(load_s, 1), "verdict": leak.get("verdict"),
            "detection_limit_mb_per_min": leak.get("detection_limit_mb_per_min"),
            "worth_caring_mb_per_min": leak.get("worth_caring_mb_per_min"),
            "run_needed_s": leak.get("run_needed_s")}


def expected_more_s(leak: dict[str, Any], load_s: float) -> float | None:
    """Seconds of load the test still expects to need after ``load_s``, if it says."""
    needed = leak.get("run_needed_s")
    return None if needed is None else max(needed - load_s, 0.0)


def run_length(max_s: float, looks: list[dict[str, Any]], load_s: float | None,
               requests: int | None, final: dict[str, Any], ended: str) -> dict[str, Any]:
    """The report's ``run_length`` block for a run whose load the leak test chose.

    ``looks``: the records of the looks taken (``look_record``); ``load_s`` and
    ``requests``: the load the run really had; ``final``: the run's own leak verdict
    (with the cooldown); ``ended``: how the run ended (``"completed"``, ``"interrupted"``,
    ...)."""
    planned = len(look_times(max_s))
    last = looks[-1] if looks else None
    loaded = _minutes(load_s) if load_s else "no load"
    if ended != "completed":
        stopped = "interrupted"
        reason = f"the run ended ({ended}) after {loaded} of load, before the test decided"
    elif last is not None and settles(last, last["load_s"]):
        stopped = last["verdict"]
        said = ("found a leak" if stopped == "leak"
                else "ruled out a leak worth caring about")
        reason = (f"the leak test {said} after {loaded} of load (look {len(looks)} of "
                  f"up to {planned}), {_minutes(max(max_s - (load_s or 0.0), 0.0))} short "
                  f"of the {_minutes(max_s)} cap")
        if final.get("verdict") and final["verdict"] != stopped:
            # What the cooldown showed (memory given back) can change the answer.
            reason += f"; with the cooldown, the verdict is {final['verdict']}"
    elif final.get("verdict") in DEFINITE:
        stopped = "cap"
        reason = (f"the load ran to its cap of {_minutes(max_s)}, where the leak test (with "
                  f"the cooldown) said {final['verdict']}")
    else:
        stopped = "cap"
        reason = f"the load reached its cap of {_minutes(max_s)} before the test decided"
        needed = final.get("run_needed_s")
        if needed:
            # A cap past what the test asks for, and past one more look at the least (an
            # estimate of the length needed is itself uncertain).
            cap = math.ceil(max(needed, max_s * AUTO_LOOK_FACTOR) / 60.0)
            reason += (f"; by its last estimate about {_minutes(needed)} of load would "
                       f"tell: run again with --load-test auto:{cap}m")
    return {"mode": "auto", "max_s": max_s, "looks_planned": planned, "looks": looks,
            "stopped": stopped, "load_s": None if load_s is None else round(load_s, 1),
            "requests": requests, "reason": reason}
