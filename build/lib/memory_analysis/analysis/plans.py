"""Which plan of each catalog to buy, for the memory the analysis recommends."""

from __future__ import annotations

from typing import Any


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


def plan_choice(catalog: dict[str, Any], min_mb: float, recommended_mb: float,
                peak_mb: float) -> dict[str, Any]:
    """One catalog's entry of ``recommendations.plans``.

    ``plan``/``memory_mb``/``headroom_percent``: the smallest plan holding the
    recommended memory and its spare beyond it. ``min_plan``: the smallest plan holding
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
        "peak_percent_of_plan": round(peak_mb / chosen["memory_mb"] * 100, 1) if chosen else None,
        "min_plan": at_min["name"] if at_min else None,
        "min_plan_memory_mb": at_min["memory_mb"] if at_min else None,
    }
    if chosen is None:
        entry["note"] = (f"no plan holds the recommended {recommended_mb:.0f} MB (largest: "
                         f"{largest:.0f} MB): split the service over several instances or "
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
