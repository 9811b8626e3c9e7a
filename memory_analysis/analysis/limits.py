"""The memory a service is judged against: its cgroup limit, the user's target or plan,
or the host.

The service will run inside a plan's memory or a container's limit; its peak must be
compared with that, not with the memory of the machine the test happens to run on.
Where both a cgroup limit and the user's target or plan are known, the smaller one is
used: it is the one the service meets first. Pure functions.
"""

from __future__ import annotations

import re
from typing import Any

from memory_analysis.analysis.plans import os_memory_mb, service_memory_mb
from memory_analysis.analysis.thresholds import PEAK_CRITICAL_PERCENT, PEAK_WARNING_PERCENT
from memory_analysis.errors import BadInput

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?)?\s*$", re.IGNORECASE)
_UNIT_MB = {None: 1.0, "k": 1.0 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024}


def parse_size_mb(text: str, option: str = "--target-memory") -> float:
    """A memory size in MB (2^20 bytes) from "512", "512M", "512MB", "2G", "1.5GiB"...

    A bare number is MB. K, M, G and T are powers of 1024, as memory is sold (a "2 GB"
    plan holds 2048 MB). BadInput for anything else, or for less than 1 MB (no service
    runs in less).
    """
    match = _SIZE.match(str(text))
    if not match:
        raise BadInput(f"{option} must be a memory size such as 512M, 2G or 1536 (MB); "
                       f"got {text!r}")
    unit = match.group(2).lower() if match.group(2) else None
    size = float(match.group(1)) * _UNIT_MB[unit]
    if size < 1.0:
        raise BadInput(f"{option} must be at least 1 MB (got {text!r})")
    return size


def find_plan(catalogs: list[dict[str, Any]], spec: str) -> dict[str, Any]:
    """``PROVIDER:PLAN`` looked up in the catalogs (names compared without case):
    {"plan": "render:standard", "memory_mb": 2048, "plan_memory_mb": 2048,
    "os_memory_mb": 0, "catalog": ...}: ``memory_mb`` is what the service gets of it (on
    a VM, what its operating system leaves). BadInput naming the known providers or plans
    otherwise."""
    provider, _, name = str(spec).partition(":")
    by_id = {c["id"]: c for c in catalogs}
    if not provider or not name:
        raise BadInput(f"--plan must be PROVIDER:PLAN, e.g. render:standard (got {spec!r}); "
                       f"providers: {', '.join(by_id)}")
    catalog = by_id.get(provider.strip().lower())
    if catalog is None:
        raise BadInput(f"--plan: no provider {provider!r} in the catalogs; providers: "
                       + ", ".join(by_id))
    plans = {p["name"].lower(): p for p in catalog["plans"]}
    plan = plans.get(name.strip().lower())
    if plan is None:
        raise BadInput(f"--plan: {catalog['id']!r} has no plan {name!r}; its plans: "
                       + ", ".join(p["name"] for p in catalog["plans"]))
    # What the service gets of it: on a VM, what its operating system leaves.
    return {"plan": f"{catalog['id']}:{plan['name']}",
            "memory_mb": service_memory_mb(catalog, plan),
            "plan_memory_mb": float(plan["memory_mb"]),
            "os_memory_mb": os_memory_mb(catalog, plan),
            "catalog": catalog["name"], "as_of": catalog["as_of"]}


def judged_against(cgroup_limit_mb: float | None, host_total_mb: float | None,
                   target_mb: float | None = None,
                   plan: dict[str, Any] | None = None,
                   limit_source: str | None = None) -> dict[str, Any]:
    """The report's ``assessment.judged_against``: ``source`` ("cgroup", "target_memory",
    "plan", "memory_limit" or "host") and ``limit_mb``, plus what else was known.

    ``plan`` is ``find_plan``'s answer. The user's target or plan and the cgroup limit
    compete: the smaller wins. The host is the last resort. ``limit_source``: the runner
    ran the service in a memory cgroup of its own, sized from this ("memory_limit",
    "plan" or "target_memory"): its limit is the one, enforced (``enforced`` true).
    """
    candidates: list[tuple[float, str]] = []
    if limit_source and cgroup_limit_mb:
        candidates.append((cgroup_limit_mb, limit_source))
    elif cgroup_limit_mb:
        candidates.append((cgroup_limit_mb, "cgroup"))
    if target_mb:
        candidates.append((target_mb, "target_memory"))
    elif plan:
        candidates.append((plan["memory_mb"], "plan"))
    if limit_source and cgroup_limit_mb:
        out: dict[str, Any] = {"source": limit_source, "limit_mb": round(cgroup_limit_mb, 1),
                               "enforced": True}
    elif candidates:
        limit, source = min(candidates)
        out = {"source": source, "limit_mb": round(limit, 1)}
    else:
        out = {"source": "host", "limit_mb": round(host_total_mb, 1) if host_total_mb else None}
    if plan:
        out["plan"] = plan["plan"]
        if plan.get("os_memory_mb"):
            out["plan_os_memory_mb"] = plan["os_memory_mb"]
    if cgroup_limit_mb and out["source"] != "cgroup" and not out.get("enforced"):
        out["cgroup_limit_mb"] = round(cgroup_limit_mb, 1)
    if host_total_mb:
        out["host_mb"] = round(host_total_mb, 1)
    if out["limit_mb"]:
        # Where the level table's warning and critical bands start, for the charts.
        out["warning_mb"] = round(out["limit_mb"] * PEAK_WARNING_PERCENT / 100.0, 1)
        out["critical_mb"] = round(out["limit_mb"] * PEAK_CRITICAL_PERCENT / 100.0, 1)
    return out


def describe(judged: dict[str, Any]) -> str:
    """"the 512 MB of plan render:starter", "the container's 1024 MB limit", ..."""
    limit = judged.get("limit_mb")
    size = f"{limit:,.0f} MB" if limit else "memory"
    source = judged.get("source")
    if source == "cgroup":
        return f"the {size} limit of its memory cgroup"
    if source == "memory_limit":
        return f"the {size} memory limit it ran in"
    enforced = "it ran in that limit" if judged.get("enforced") else ""
    if source == "target_memory":
        return f"the target of {size}" + (f" ({enforced})" if enforced else "")
    if source == "plan":
        notes = [n for n in ("what its operating system leaves"
                             if judged.get("plan_os_memory_mb") else "", enforced) if n]
        return f"the {size} of plan {judged.get('plan')}" + (
            f" ({', and '.join(notes)})" if notes else "")
    return f"the host's {size}"
