"""Which plan of each catalog to buy, for the memory the analysis recommends, and which
is the cheapest across them all.

A plan holds a size when the memory it leaves to the service does: all of it for a
container or PaaS instance, its memory less what the operating system takes for a virtual
machine (``os_memory_mb``). Every choice below goes through ``holds``.
"""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.analysis.thresholds import VM_OS_SHARE, VM_OS_USERLAND_MB
from memory_analysis.numbers import amount, known


def os_memory_mb(catalog: dict[str, Any], plan: dict[str, Any]) -> float:
    """MB of ``plan``'s memory its operating system keeps from the service: none for a
    container; for a VM the catalog's ``os_memory_mb``, else ``VM_OS_USERLAND_MB`` plus
    ``VM_OS_SHARE`` of the plan's memory (thresholds.py says where they come from)."""
    if catalog.get("kind", "container") != "vm":
        return 0.0
    if catalog.get("os_memory_mb") is not None:
        return float(catalog["os_memory_mb"])
    return round(VM_OS_USERLAND_MB + VM_OS_SHARE * plan["memory_mb"], 1)


def service_memory_mb(catalog: dict[str, Any], plan: dict[str, Any]) -> float:
    """MB of ``plan``'s memory left to the service (never below zero)."""
    return round(max(plan["memory_mb"] - os_memory_mb(catalog, plan), 0.0), 1)


def holds(catalog: dict[str, Any], plan: dict[str, Any], memory_mb: float) -> bool:
    """Whether ``plan`` is one to recommend (not ``production: false``, as free tiers are)
    and leaves the service at least ``memory_mb``."""
    return bool(plan.get("production", True)) and service_memory_mb(catalog, plan) >= memory_mb


def _price_or_last(plan: dict[str, Any]) -> float:
    price = plan.get("monthly_usd")
    return math.inf if price is None else float(price)


def smallest_plan(catalog: dict[str, Any], memory_mb: float) -> dict[str, Any] | None:
    """The smallest production plan holding ``memory_mb`` (``holds``), the cheaper of two
    the same size; None when none is big enough."""
    fitting = [p for p in catalog["plans"] if holds(catalog, p, memory_mb)]
    return min(fitting, key=lambda p: (p["memory_mb"], _price_or_last(p))) if fitting else None


def plan_summary(catalog: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """One plan as the report names it on its own: ``provider`` (the catalog's id),
    ``catalog`` (its name), ``plan``, ``memory_mb``, ``service_memory_mb`` and
    ``os_memory_mb`` (``holds``), ``monthly_usd`` (None when the catalog has no price)
    and the catalog's ``as_of``."""
    return {"provider": catalog["id"], "catalog": catalog["name"], "plan": plan["name"],
            "memory_mb": plan["memory_mb"], "service_memory_mb": service_memory_mb(catalog, plan),
            "os_memory_mb": os_memory_mb(catalog, plan),
            "monthly_usd": plan.get("monthly_usd"), "as_of": catalog["as_of"]}


def cheapest_plan(catalogs: list[dict[str, Any]], memory_mb: float) -> dict[str, Any] | None:
    """The cheapest production plan across all ``catalogs`` that leaves the service
    ``memory_mb`` (MB; for a VM, after its operating system's share), as ``plan_summary``
    gives it; None when no priced plan holds it.

    Prices are monthly on-demand US dollars (``monthly_usd``); a plan without one is never
    the cheapest. Of two at the same price the smaller wins, then the one listed first
    (catalog order, then plan order).
    """
    best: tuple[tuple[float, float], dict[str, Any], dict[str, Any]] | None = None
    for catalog in catalogs:
        for plan in catalog["plans"]:
            if plan.get("monthly_usd") is None or not holds(catalog, plan, memory_mb):
                continue
            key = (float(plan["monthly_usd"]), float(plan["memory_mb"]))
            if best is None or key < best[0]:
                best = (key, catalog, plan)
    return None if best is None else plan_summary(best[1], best[2])


def recommend_cheapest(catalogs: list[dict[str, Any]], min_mb: float | None,
                       recommended_mb: float | None) -> dict[str, Any]:
    """The report's ``recommendations.cheapest``: ``{"recommended": cheapest_plan(...),
    "minimum": cheapest_plan(...)}`` for the recommended and the minimum memory (either
    None when no priced plan holds it); empty when the memory is unknown."""
    if min_mb is None or recommended_mb is None:
        return {}
    return {"recommended": cheapest_plan(catalogs, recommended_mb),
            "minimum": cheapest_plan(catalogs, min_mb)}


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

    ``plan``/``memory_mb``/``monthly_usd``: the smallest plan holding the recommended
    memory (``holds``), its memory and price; ``service_memory_mb``/``os_memory_mb`` what
    of it the service gets and what a VM's operating system takes (0 for a container).
    ``headroom_percent``, ``headroom_mb``/``times_recommended``: the service's memory beyond
    the recommended, in % and MB, and as a multiple of it (what the views show).
    ``min_plan``: the smallest plan holding the minimum. ``peak_percent_of_plan``: how full
    the service's memory on the chosen plan would be at the peak.
    """
    chosen = smallest_plan(catalog, recommended_mb)
    at_min = smallest_plan(catalog, min_mb)
    room = service_memory_mb(catalog, chosen) if chosen else None
    entry: dict[str, Any] = {
        "catalog": catalog["name"], "as_of": catalog["as_of"],
        "plan": chosen["name"] if chosen else None,
        "memory_mb": chosen["memory_mb"] if chosen else None,
        "monthly_usd": chosen.get("monthly_usd") if chosen else None,
        "service_memory_mb": room,
        "os_memory_mb": os_memory_mb(catalog, chosen) if chosen else None,
        "headroom_percent": headroom_percent(room, recommended_mb) if room is not None else None,
        "headroom_mb": room_left(room, recommended_mb)[0] if room is not None else None,
        "times_recommended": room_left(room, recommended_mb)[1] if room is not None else None,
        "peak_percent_of_plan": round(peak_mb / room * 100, 1) if room else None,
        "min_plan": at_min["name"] if at_min else None,
        "min_plan_memory_mb": at_min["memory_mb"] if at_min else None,
    }
    if chosen is None:
        largest = max(catalog["plans"], key=lambda p: p["memory_mb"])
        left = service_memory_mb(catalog, largest)
        of_it = ("" if left == largest["memory_mb"] else
                 f", {left:,.0f} MB of it the service's once the operating system has its share")
        entry["note"] = (f"no plan holds the recommended {recommended_mb:,.0f} MB (largest: "
                         f"{largest['memory_mb']:,.0f} MB{of_it}): split the service over "
                         "several instances or reduce its memory")
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
    same load until the leak fills the memory between the run's peak and the plan's memory
    for the service, ``(service memory − peak) / slope``, at the leak verdict's own rate
    (the rate at the end of the load, ``slope_mb_per_min``); ``lasts_h_ci`` the same by the
    ends of its 95 % interval (None for an end where it lasts for ever). Only a straight
    line keeps that rate; a growth that slows would last longer, and the sentence says so.
    """
    slope = leak.get("slope_mb_per_min")
    if leak.get("verdict") != "leak" or peak_mb is None or not slope or slope <= 0:
        return plans, None
    low, high = leak.get("slope_ci_mb_per_min") or [None, None]
    out = {}
    for provider, entry in plans.items():
        memory = entry.get("service_memory_mb", entry.get("memory_mb"))
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
