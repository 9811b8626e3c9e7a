"""What the tools' views share: plain lines to a stream with status lines thinned out,
and a rich panel redrawn in place on a terminal."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from memory_analysis.cadence import Cadence
from memory_analysis.numbers import amount, count, fixed, hours, usd


class PlainLines:
    """Prints lines, flushed at once (logs follow the run); ``due(t)`` lets through at
    most one status line per ``every_s`` seconds of the run's clock."""

    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 1.0) -> None:
        self.stream = stream
        self.every_s = every_s
        # Status comes with each sample or each second, a few ms after its own due time:
        # one a tenth of a period early is the one due (else a line a second would come
        # every other second now and then).
        self._cadence = Cadence(every_s, every_s / 10)

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to undo: lines already printed stay."""

    def due(self, t: float) -> bool:
        return self._cadence.due(t)


class LivePanel:
    """A rich panel redrawn in place (4 times a second at most) that leaves no trace
    when stopped; views put their own content in it. rich is imported only here, so a
    plain or quiet run never loads it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=True)

    def close(self) -> None:
        self.live.stop()


def lasts_text(plan: dict[str, Any]) -> str:
    """How long a plan holds a leak: "2.3 h (1.9 h to 2.9 h)"."""
    if "lasts_h" not in plan:
        return "-"
    text = hours(plan["lasts_h"])
    low, high = (hours(h) for h in plan.get("lasts_h_ci") or [None, None])
    if plan["lasts_h"] and low != high:
        text += f" ({low} to {high})"
    return text


def leak_heading(leak: dict[str, Any]) -> str:
    """The leak verdict as the heading of its reason, the verdict said once: "Leak (high
    confidence)", "No leak (medium confidence)", "Leak: too short to tell"."""
    verdict = leak.get("verdict") or "-"
    confidence = f" ({leak['confidence']} confidence)" if leak.get("confidence") else ""
    if verdict == "leak":
        return f"Leak{confidence}"
    if verdict == "no leak":
        return f"No leak{confidence}"
    return f"Leak: {verdict}"


def room_text(plan: dict[str, Any]) -> str:
    """A plan's memory beyond the recommended, and the plan as a multiple of it: "377 MB
    left (3.8× the recommended)"."""
    if plan.get("headroom_mb") is None:
        return "-"
    text = amount(plan["headroom_mb"], "MB") + " left"
    times = plan.get("times_recommended")
    return text + (f" ({fixed(times, 1)}× the recommended)" if times else "")


def plan_text(plan: dict[str, Any] | None) -> str:
    """A plan named on its own (``plans.plan_summary``): "t3.small (aws)"; "none priced"
    when no priced plan holds the size."""
    return "none priced" if plan is None else f"{plan['plan']} ({plan['provider']})"


def plan_memory_text(plan: dict[str, Any]) -> str:
    """A plan's memory (``plans.plan_choice`` or ``plan_summary``), and on a VM what of it
    the service gets: "512 MB (302 MB for the service)"; "-" without a plan."""
    if plan.get("memory_mb") is None:
        return "-"
    text = f"{count(plan['memory_mb'])} MB"
    if plan.get("os_memory_mb"):
        text += f" ({amount(plan['service_memory_mb'], 'MB')} for the service)"
    return text


CHEAPEST_HEADER = ["for", "plan", "memory", "$/month"]


def cheapest_rows(recommendations: dict[str, Any]) -> list[list[str]]:
    """The cheapest plan across providers (``recommendations.cheapest``) for the
    recommended and the minimum memory, as table rows; none when the memory is unknown."""
    cheapest = recommendations.get("cheapest") or {}
    rows = []
    for which, key in (("recommended", "recommended_memory_mb"), ("minimum", "min_memory_mb")):
        if which not in cheapest:
            continue
        plan = cheapest[which]
        rows.append([f"{which} {count(recommendations.get(key))} MB", plan_text(plan),
                     plan_memory_text(plan or {}),
                     usd(plan["monthly_usd"]) if plan else "-"])
    return rows


def instances_title(scaling: dict[str, Any]) -> str:
    """The instances table's title: what load it serves."""
    unit = "in flight" if scaling.get("load_basis") == "concurrency" else "users"
    return (f"Serving the peak load ({amount(scaling['peak_load'])} {unit}) on 1, 2, 4 and 8 "
            "instances, each with its own baseline (memory alone, monthly on-demand prices)")


def instances_header(scaling: dict[str, Any]) -> list[str]:
    unit = "in flight" if scaling.get("load_basis") == "concurrency" else "users"
    return ["instances", f"{unit} each", "memory each", "in all", "cheapest plan", "$/month"]


def instances_rows(scaling: dict[str, Any]) -> list[list[str]]:
    """``recommendations.scaling.instances`` as table rows (a load below the lowest step
    says so: its memory is extrapolated)."""
    return [[count(row["instances"]),
             amount(row["load_per_instance"]) + (" (below the steps)" if row["extrapolated"]
                                                 else ""),
             f"{count(row['per_instance_mb'])} MB", f"{count(row['total_mb'])} MB",
             plan_text(row["plan"]), usd(row["monthly_cost"])]
            for row in scaling.get("instances") or []]
