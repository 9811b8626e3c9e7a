"""Which plan of each catalog to buy, for the memory the analysis recommends."""

from __future__ import annotations

from typing import Any

from memory_analysis.numbers import amount, known


def smallest_plan(catalog: dict[str, Any], memory_mb: float) -> dict[str, Any] | None:
    """The smallest production plan holding ``memory_mb``; None when none is big enough.

    Plans marked ``production: false`` (free tiers) are never chosen.
    """
    fitting = [p for p in catalog["plans"]
               if p.get("production", True) and p["memory_mb"] >= memory_mb]
    return min(fitting, key=lambda p: p["memory_mb"]) if fitting else None


def headroom_percent(plan_mb: float, needed_mb: float) -> float:
    """How much more memory the plan has than ``needed_mb``, in % of ``needed_mb``."""
    return round((plan_mb - needed_mb) / needed_mb * 100.0, 1) if needed_mb > 0 else 0.0


def room_left(plan_mb: float, needed_mb: float) -> tuple[float, float | None]:
    """The plan's memory beyond ``needed_mb``: in MB, and how many times ``needed_mb``
    the plan holds (None when nothing is needed)."""
    return (round(plan_mb - needed_mb, 1),
            round(plan_mb / needed_mb, 2) if needed_mb > 0 else None)


def plan_choice(catalog: dict[str, Any], min_mb: float, recommended_mb: float,
                peak_mb: float) -> dict[str, Any]:
    """One catalog's entry of ``recommendations.plans``.

    ``plan``/``memory_mb``/``headroom_percent``: the smallest plan holding the
    recommended memory and its spare beyond it; ``headroom_mb``/``times_recommended``
    the same spare in MB, and the plan's memory as a multiple of the recommended (what
    the views show). ``min_plan``: the smallest plan holding
    the minimum. ``peak_percent_of_plan``: how full the chosen plan would be at the peak.
    """
    chosen = smallest_plan(catalog, recommended_mb)
    at_min = smallest_plan(catalog, min_mb)
    largest = max(p["memory_mb"] for p in catalog["plans"])
    entry: dict[str, Any] = {
        "catalog": catalog["name"], "as_of": catalog["as_of"],
        "plan": chosen["name"] if chosen else None,
        "memory_mb": chosen["memory_mb"] if chosen else None,
        "headroom_percent": (headroom_percent(chosen["memory_mb"], recommended_mb)
                             if chosen else None),
        "headroom_mb": room_left(chosen["memory_mb"], recommended_mb)[0] if chosen else None,
        "times_recommended": (room_left(chosen["memory_mb"], recommended_mb)[1]
                              if chosen else None),
        "peak_percent_of_plan": round(peak_mb / chosen["memory_mb"] * 100, 1) if chosen else None,
        "min_plan": at_min["name"] if at_min else None,
        "min_plan_memory_mb": at_min["memory_mb"] if at_min else None,
    }
    if chosen is None:
        entry["note"] = (f"no plan holds the recommended {recommended_mb:,.0f} MB (largest: "
                         f"{largest:,.0f} MB): split the service over several instances or "
                         "reduce its memory")
    elif chosen.get("note"):
        entry["note"] = chosen["note"]
    return entry


def recommend_plans(catalogs: list[dict[str, Any]], min_mb: float | None,
                    recommended_mb: float | None, peak_mb: float | None) -> dict[str, Any]:
    """``{catalog id: plan_choice(...)}`` for every catalog; empty when memory is unknown."""
    if min_mb is None or recommended_mb is None or peak_mb is None:
        return {}
    return {c["id"]: plan_choice(c, min_mb, recommended_mb, peak_mb) for c in catalogs}


def _hours(needed_mb: float, rate_mb_per_min: float | None) -> float | None:
    """Hours until ``needed_mb`` more memory is used at ``rate_mb_per_min``; None when
    the rate is not growth (never, at that rate)."""
    if rate_mb_per_min is None or rate_mb_per_min <= 0:
        return None
    return round(max(needed_mb, 0.0) / rate_mb_per_min / 60.0, 2)


def plans_until_leak(plans: dict[str, Any], leak: dict[str, Any],
                     peak_mb: float | None) -> tuple[dict[str, Any], str | None]:
    """The plans of a leaking service with how long each would last, and the sentence
    that introduces them; ``(plans, None)`` unchanged when no leak was found.

    A leak makes a plan a delay, not a size: each plan's ``lasts_h`` is the hours of the
    same load until the leak fills the memory between the run's peak and the plan,
    ``(plan memory − peak) / slope``, at the leak verdict's own rate (the rate at the end
    of the load, ``slope_mb_per_min``); ``lasts_h_ci`` the same by the ends of its 95 %
    interval (None for an end where it lasts for ever). Only a straight line keeps that
    rate; a growth that slows would last longer, and the sentence says so.
    """
    slope = leak.get("slope_mb_per_min")
    if leak.get("verdict") != "leak" or peak_mb is None or not slope or slope <= 0:
        return plans, None
    low, high = leak.get("slope_ci_mb_per_min") or [None, None]
    out = {}
    for provider, entry in plans.items():
        memory = entry.get("memory_mb")
        if memory is None:
            out[provider] = entry
            continue
        room = memory - peak_mb
        out[provider] = {**entry, "lasts_h": _hours(room, slope),
                         "lasts_h_ci": [_hours(room, high), _hours(room, low)]}
    # The rate as the leak's reason gives it: rounded as its interval warrants.
    rate = known(slope, [low, high], "MB/min")
    note = (f"A leak was found (memory grew {rate} under this load), so no "
            "plan below is a size that holds the service: each holds the recommended "
            "memory only until the leak fills it. \"Lasts\" is how long that takes under "
            f"the same load, from this run's peak of {amount(peak_mb, 'MB')} at {rate}. "
            "Fix the leak before choosing a plan.")
    shape = leak.get("shape")
    if shape in ("slowing", "levels off"):
        note += (f" The growth's shape was \"{shape}\", not a straight line: these times "
                 "go on at the rate it had at the end of the load, so they are the "
                 "shortest to expect; a growth that keeps slowing lasts longer.")
    elif shape not in (None, "linear", "linear after warm-up"):
        note += (f" The growth's shape was \"{shape}\": these times assume it goes on at "
                 "the rate it had at the end of the load, in a straight line.")
    return out, note
