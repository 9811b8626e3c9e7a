"""The service run inside a memory limit: what happened to it, and the smallest limit
that serves the load (``--memory-limit``, ``--rehearse``, ``--find-minimum``).

Pure functions on plain data: the runner measures, these judge. Sizes in MB, times in
seconds on the samples' clock.

A limit "serves the load" when, under the same load as the unlimited round, the service
had no OOM kill, no more errors than the unlimited round's rate allows, and a p95
latency within ``ROUND_P95_TOLERANCE`` of the unlimited round's beyond both rounds'
noise: memory reclaim under a tight limit shows as tail latency before any kill.
``--find-minimum`` bisects between the service's floor (the least memory it was seen
in, unloaded) and the seed's minimum (peak × 1.5) for the smallest limit that does.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from memory_analysis.analysis.thresholds import (
    MIN_FACTOR,
    RECOMMENDED_FACTOR,
    ROUND_ERROR_SIGMAS,
    ROUND_NOISE_SIGMAS,
    ROUND_P95_TOLERANCE,
)
from memory_analysis.numbers import amount, count, usd

# How many seconds of load before a kill give "the request rate at the kill".
RATE_WINDOW_S = 5
# Files the service maps but this host charged elsewhere are named once they reach a
# twentieth of the limit: below that, they are within what two rounds' peaks differ by.
UNCHARGED_NOTE_SHARE = 0.05


def rate_before(rows: list[dict[str, Any]], load_t: float) -> tuple[float | None, int]:
    """(requests per second over the ``RATE_WINDOW_S`` whole seconds before ``load_t``
    seconds of load, requests sent until then) from the load tester's per-second rows
    (row ``t`` counts the second that ends at ``t``; the one cut short is not a rate)."""
    before = [r for r in rows if r.get("t", 0) < load_t + 1]
    whole = math.floor(load_t)
    window = [r for r in before if whole - RATE_WINDOW_S < r.get("t", 0) <= whole]
    rate = (sum(r.get("requests", 0) for r in window) / len(window)) if window else None
    return (None if rate is None else round(rate, 1)), sum(r.get("requests", 0) for r in before)


def rehearsal_block(group: dict[str, Any], source: str, oom: dict[str, Any] | None,
                    load_rows: list[dict[str, Any]], load_start_t: float | None,
                    cgroup_summary: dict[str, Any] | None,
                    p95_ms: float | None, samples: list[dict[str, Any]] | None = None,
                    died: str | None = None) -> dict[str, Any]:
    """The report's ``rehearsal``. ``group``: the memory group (``limit_mb``, ``method``,
    ``path``, ``swap``, ``oom_kills``, and the kernel's ``peak_mb`` and ``pressure`` over
    the group's life, which began with the run); ``oom``: the first OOM kill, {"t",
    "phase"} on the samples' clock, or None; ``load_rows``/``load_start_t``: the load
    tester's per-second rows and when its load began; ``cgroup_summary``: the monitor's
    summary of the group, for what the group could not tell; ``samples``: the monitor's
    (the group's working set, and the files the service maps); ``died``: how
    the service ended when it did not run to the end ("was killed by SIGABRT"), for a
    death the group counted no OOM kill for (a runtime's own heap limit, say)."""
    summary = {**(cgroup_summary or {}),
               **{k: v for k, v in group.items() if k in ("peak_mb", "pressure") and v}}
    # The group's own count; where it cannot be read (a systemd scope not found), the
    # monitor's of the same group.
    kills = group.get("oom_kills")
    if kills is None:
        kills = summary.get("oom_kills_during_run") or 0
    out: dict[str, Any] = {
        "limit_mb": group.get("limit_mb"), "source": source, "cgroup": group.get("path"),
        "method": group.get("method"), "swap": group.get("swap"), "oom_kills": kills,
        "survived": not kills and oom is None and died is None, "died": died,
        "killed_at_t": None, "killed_in_phase": None,
        "rate_at_kill_rps": None, "requests_before_kill": None,
        "peak_mb": summary.get("peak_mb"),
        "working_set_peak_mb": group_span(samples or [])[1],
        "uncharged_file_mb": uncharged_file_mb(samples or []),
        "pressure": summary.get("pressure"),
        "p95_ms": p95_ms,
    }
    into_load = None
    if oom is not None:
        out["killed_at_t"] = None if oom.get("t") is None else round(oom["t"], 2)
        out["killed_in_phase"] = oom.get("phase")
        if oom.get("phase") == "load" and oom.get("t") is not None and load_start_t is not None:
            into_load = oom["t"] - load_start_t
            out["rate_at_kill_rps"], out["requests_before_kill"] = rate_before(
                load_rows, into_load)
    out["summary"] = _summary(out, into_load) + _uncharged_text(out)
    return out


def _uncharged_text(block: dict[str, Any]) -> str:
    """The files the service maps that this host charged to other groups, when they
    matter against the limit (a runtime's binary other processes here also run)."""
    uncharged, limit = block.get("uncharged_file_mb"), block.get("limit_mb")
    if not uncharged or not limit or uncharged < UNCHARGED_NOTE_SHARE * limit:
        return ""
    return (f" {_charged_elsewhere(amount(uncharged, 'MB'))}: in a fresh container of this "
            "size, it would have that much less room.")


def _charged_elsewhere(size: str) -> str:
    return (f"{size} of the files it maps (its runtime and libraries) are charged to other "
            "processes on this host")


def _summary(block: dict[str, Any], into_load: float | None) -> str:
    """The rehearsal in a sentence, from the block's own figures."""
    limit = block.get("limit_mb")
    where = (f"Ran in a {amount(limit, 'MB')} memory limit" if limit else
             "Ran in a memory cgroup without a limit") + \
        f" ({block.get('method')}, swap {block.get('swap')})"
    # The group's working set first, what the kernel counted against the limit; its
    # usage, page cache included, is what meets the limit and makes the kernel reclaim.
    peak = block.get("working_set_peak_mb")
    usage = block.get("peak_mb")
    if peak is None:
        peak, usage = usage, None
    peak_text = f"peak {amount(peak, 'MB')}" + (f", {peak * 100.0 / limit:.0f} % of the limit"
                                                if peak is not None and limit else "")
    if usage is not None and peak is not None and usage > peak:
        peak_text += f" (with page cache, usage reached {amount(usage, 'MB')})"
    if block["survived"]:
        pressure = _pressure_text(block.get("pressure")) if limit else ""
        return f"{where}: survived; {peak_text}{pressure}."
    phase = block.get("killed_in_phase")
    if not block.get("oom_kills") and block.get("died"):
        return (f"{where}: the service {block['died']} with no OOM kill counted in its group "
                f"(a runtime's own memory limit, or another cause: see its log); "
                f"{peak_text}.")
    if phase == "starting":
        when = "while starting, before it could serve"
    elif into_load is not None:
        when = f"{into_load:.1f} s into the load"
        if block.get("rate_at_kill_rps") is not None:
            when += (f", at {count(block['rate_at_kill_rps'])} requests/s after "
                     f"{count(block['requests_before_kill'])} requests")
    elif phase:
        when = f"during the {phase}"
    else:
        when = "while the service ran on (a worker killed and restarted)"
    kills = block.get("oom_kills") or 0
    if block.get("died") is None:
        # A worker killed and restarted: the service itself ran to the end.
        return (f"{where}: {'processes' if kills > 1 else 'a process'} of the service "
                f"OOM-killed ({count(kills)} in all), the first {when}; the service ran on; "
                f"{peak_text}.")
    return (f"{where}: OOM-killed {when}" + (f" ({kills} kills in all)" if kills > 1 else "")
            + f"; {peak_text}.")


def _pressure_text(pressure: dict[str, Any] | None) -> str:
    if not pressure:
        return ""
    if pressure.get("kind") == "failcnt":
        # Some kernels' v1 never counts failcnt: a 0 says nothing there.
        parts = ([f"usage hit the limit {count(pressure['failcnt'])} times"]
                 if pressure.get("failcnt") else [])
        if pressure.get("refaults") is not None:
            parts.append(f"{count(pressure['refaults'])} pages read back after reclaim")
        return "".join(f"; {part}" for part in parts)
    return (f"; tasks stalled waiting for memory {pressure.get('some_percent', 0):.2f} % of "
            "the time")


def group_span(samples: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """(the least working set the group had before the load, its highest): what the
    kernel counted against the limit, the span --find-minimum searches."""
    sets: list[tuple[str | None, float]] = [
        (s.get("phase"), float(s["cgroup"]["working_set_mb"])) for s in samples
        if (s.get("cgroup") or {}).get("working_set_mb") is not None]
    unloaded = [mb for phase, mb in sets if phase == "baseline"] or [mb for _, mb in sets]
    return (min(unloaded) if unloaded else None,
            max(mb for _, mb in sets) if sets else None)


def uncharged_file_mb(samples: list[dict[str, Any]]) -> float | None:
    """MB of files the service maps that its group was not charged for (median over the
    samples): pages of its runtime's binary and libraries another process on this host
    read first, which are charged to that process's group. In a fresh container they
    would be charged to the service's own, so a limit measured here understates what it
    needs there by this much. The files it maps: the most any one process of its tree
    maps (forked workers map the same ones); None without the figures."""
    values = []
    for sample in samples:
        group = sample.get("cgroup") or {}
        processes = ((sample.get("process") or {}).get("processes") or {}).values()
        mapped = [p["rss_file_mb"] for p in processes if p.get("rss_file_mb") is not None]
        if group.get("mapped_file_mb") is not None and mapped:
            values.append(max(max(mapped) - group["mapped_file_mb"], 0.0))
    return round(statistics.median(values), 1) if values else None


@dataclass(frozen=True)
class RoundFigures:
    """One round's figures: its requests and failed ones, p95 latency and the standard
    error of it (from its per-second values), OOM kills, whether the service started,
    and the pages its group read back after reclaiming them (None: not known)."""

    requests: int
    failures: int
    p95_ms: float | None
    p95_se_ms: float
    oom_kills: int
    started: bool = True
    refaults: int | None = None

    @classmethod
    def of(cls, load: dict[str, Any], rows: list[dict[str, Any]], oom_kills: int,
           started: bool = True, refaults: int | None = None) -> RoundFigures:
        """From a run's load figures (``requests``, ``failures``, ``latency_ms``) and its
        per-second rows."""
        return cls(requests=int(load.get("requests") or 0),
                   failures=int(load.get("failures") or 0),
                   p95_ms=(load.get("latency_ms") or {}).get("p95"),
                   p95_se_ms=p95_standard_error(rows), oom_kills=oom_kills, started=started,
                   refaults=refaults)


def p95_standard_error(rows: list[dict[str, Any]]) -> float:
    """The standard error of a run's p95 latency by batch means: the spread of its
    per-second p95 values over the square root of their number (0 with fewer than 2)."""
    values = [r["p95_ms"] for r in rows if r.get("p95_ms") is not None and r.get("requests")]
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))


def judge_round(base: RoundFigures, this: RoundFigures) -> tuple[bool, str, str]:
    """(served, outcome, why) for a round under a limit against the unlimited round:
    outcome "served", "did not start", "oom killed", "errors" or "slower"."""
    if not this.started:
        return False, "did not start", "the service did not start inside the limit"
    if this.oom_kills:
        return False, "oom killed", f"{this.oom_kills} OOM kill(s) under the load"
    expected = (base.failures / base.requests * this.requests) if base.requests else 0.0
    allowed = expected + ROUND_ERROR_SIGMAS * math.sqrt(expected)
    if this.failures > allowed:
        return False, "errors", (f"{this.failures} failed requests of {this.requests}, where "
                                 f"the unlimited round's rate allows {allowed:.0f}")
    if this.requests == 0:
        return False, "errors", "no request was served"
    if base.p95_ms and this.p95_ms is not None:
        noise = ROUND_NOISE_SIGMAS * math.hypot(base.p95_se_ms, this.p95_se_ms)
        bound = base.p95_ms * (1.0 + ROUND_P95_TOLERANCE) + noise
        slower = (f"p95 {this.p95_ms:.1f} ms against {base.p95_ms:.1f} ms unlimited (more than "
                  f"{ROUND_P95_TOLERANCE:.0%} and its noise: up to {bound:.1f} ms serves)")
        if this.p95_ms > bound and _reclaimed_more(base, this) is False:
            # A limit slows a service by making the kernel reclaim its pages, which it
            # then reads back; a round slower without that was slowed by the machine.
            return True, "served", (f"{slower}, but the limit made the kernel read back no "
                                    f"more pages than unlimited ({this.refaults} against "
                                    f"{base.refaults}): the machine was busy, not the memory")
        if this.p95_ms > bound:
            return False, "slower", slower
    return True, "served", "served the load as the unlimited round did"


def _reclaimed_more(base: RoundFigures, this: RoundFigures) -> bool | None:
    """Whether the limit made the kernel read back more pages than the unlimited round
    did, beyond a Poisson count's noise (None: not known)."""
    if base.refaults is None or this.refaults is None:
        return None
    return this.refaults > base.refaults + ROUND_ERROR_SIGMAS * math.sqrt(max(base.refaults, 1))


def search_span(floor_mb: float, peak_mb: float) -> tuple[float, float]:
    """Where the minimum is looked for: from the least memory the service was seen in
    (below it, it cannot even hold itself unloaded) to the seed's minimum, peak × 1.5."""
    high = peak_mb * MIN_FACTOR
    return min(floor_mb, high), high


def next_limit(low_mb: float, high_mb: float) -> int:
    """The next limit to try: halfway, in whole MB."""
    return int(math.ceil((low_mb + high_mb) / 2.0))


def with_margin(minimum_mb: float) -> float:
    """The memory to buy for a measured minimum: the seed keeps its recommended memory
    (peak × 2) a third above its minimum (peak × 1.5); the same margin over the measured
    minimum."""
    return minimum_mb * RECOMMENDED_FACTOR / MIN_FACTOR


def minimum_summary(rounds: list[dict[str, Any]], low_mb: float, high_mb: float,
                    peak_mb: float, uncharged_mb: float | None = None) -> dict[str, Any]:
    """``minimum_mb`` (the smallest limit that served here, None when none did),
    ``container_minimum_mb`` (it, with the files the service maps that this host
    charged to other groups: what a fresh container needs), ``rule_of_thumb_min_mb``
    (the service's peak × 1.5), ``buy_mb`` (the container's minimum with the seed's
    margin), and the span searched with how finely the rounds resolved it."""
    served = [r["limit_mb"] for r in rounds if r.get("served")]
    failed = [r["limit_mb"] for r in rounds if not r.get("served")]
    minimum = min(served) if served else None
    above = max((f for f in failed if minimum is None or f < minimum), default=low_mb)
    container = None if minimum is None else math.ceil(minimum + (uncharged_mb or 0.0))
    return {"minimum_mb": minimum,
            "container_minimum_mb": container,
            "uncharged_file_mb": uncharged_mb,
            "rule_of_thumb_min_mb": math.ceil(peak_mb * MIN_FACTOR),
            "buy_mb": None if container is None else math.ceil(with_margin(container)),
            "search_mb": [round(low_mb, 1), round(high_mb, 1)],
            # The minimum lies between the largest limit that failed below it and itself.
            "resolution_mb": None if minimum is None else round(minimum - above, 1),
            "unloaded_floor_mb": round(low_mb, 1)}


def minimum_text(block: dict[str, Any]) -> str:
    """--find-minimum's answer in a sentence, from its block's own figures."""
    tried = [r for r in block.get("rounds", []) if r.get("limit_mb") is not None]
    rule = block.get("rule_of_thumb_min_mb")
    minimum = block.get("minimum_mb")
    if minimum is None:
        if not tried:
            return ("no round under a limit ran"
                    + (f" ({block['stopped']})" if block.get("stopped") else ""))
        largest = max(r["limit_mb"] for r in tried)
        return (f"none of the {len(tried)} limits tried served the load (the largest, "
                f"{_whole_mb(largest)}, {_outcome_of(tried, largest)}): the minimum is "
                f"above it, up to the rule of thumb's {_whole_mb(rule)} (peak × 1.5)")
    within = block.get("resolution_mb")
    text = (f"{_whole_mb(minimum)} serves the load here"
            + (f" (to within {_whole_mb(within)}, {len(tried)} rounds)"
               if within else ""))
    uncharged = block.get("uncharged_file_mb") or 0.0
    if uncharged >= UNCHARGED_NOTE_SHARE * minimum:
        text += (f"; {_charged_elsewhere(_whole_mb(uncharged))}, and would be to it in a "
                 f"fresh container: about {_whole_mb(block.get('container_minimum_mb'))} there")
    text += (f". The rule of thumb (peak × 1.5) says {_whole_mb(rule)}; with the seed's "
             f"margin, buy {_whole_mb(block.get('buy_mb'))}")
    cheapest = block.get("cheapest_for_minimum")
    if cheapest:
        text += (f": the cheapest plan holding it is {cheapest['provider']} "
                 f"{cheapest['plan']} at {usd(cheapest['monthly_usd'])}/month")
    rule_cheapest = block.get("cheapest_for_rule")
    if rule_cheapest and cheapest and rule_cheapest["plan"] != cheapest["plan"]:
        text += (f" (by the rule of thumb, {rule_cheapest['provider']} "
                 f"{rule_cheapest['plan']} at {usd(rule_cheapest['monthly_usd'])}/month)")
    if block.get("stopped"):
        text += f" (the rounds stopped early: {block['stopped']})"
    return text


def _outcome_of(rounds: list[dict[str, Any]], limit: float) -> str:
    return next(r["outcome"] for r in rounds if r["limit_mb"] == limit)


def _whole_mb(value: float | None) -> str:
    """Limits are set in whole MB: shown so ("1,024 MB")."""
    return f"{count(value)} MB"
