"""Deployment level by the seed's table: safe, warning or critical, with the reasons.

| level    | peak memory (of what it is judged against) | recovery after load |
|----------|--------------------------------------------|---------------------|
| safe     | under 80 %                                 | over 80 %           |
| warning  | 80-90 %                                    | 60-80 %             |
| critical | over 90 %                                  | under 60 %          |

Either column alone can raise the level; the worst one decides. Boundaries belong to the
milder level that names them (80 % and 90 % peak are warning; a recovery of exactly 80 %
or 60 % is warning), compared as the text shows them (``thresholds.shown``).

Peak memory is a share of the memory the service will get (``limits.judged_against``):
of its cgroup limit (the cgroup's working set, what the OOM killer acts on), else of the
user's target or plan, else of the host's total memory: the service's own peak in each
of the last three. What other programs hold on the host is not the service's: the
host's own state is reported beside the level (``host_state``), never as its peak.

How the run ended decides too (``RunEnd``): a service that died during the run is
critical, and a run whose load sent no request has no level ("unknown").

Recovery is read for growth that matters to sizing. Nearly every healthy CPython
service keeps what it once allocated (a cache, pymalloc's arenas, glibc's heaps), so
poor recovery alone is not alarming:

- growth within the noise, or memory that came back (over 80 %): safe;
- memory still growing (a leak): critical, however much came back;
- growth whose best fit uses up the headroom within the horizon, where the run was too
  short to tell it from a curve that stops in time: a warning;
- memory held that stopped growing: sized for (the peak includes it), so it is safe when
  smaller than one band of the table (10 % of the limit) and a warning when larger;
  a recovery in the 60-80 % band is a warning only for growth that large, too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memory_analysis.analysis.leak import rate_text
from memory_analysis.analysis.limits import describe
from memory_analysis.analysis.thresholds import (
    HELD_MATTERS_PERCENT_OF_LIMIT,
    HOST_FULL_PERCENT,
    PEAK_CRITICAL_PERCENT,
    PEAK_WARNING_PERCENT,
    RECOVERY_CRITICAL_PERCENT,
    RECOVERY_SAFE_PERCENT,
    shown,
)
from memory_analysis.levels import ORDER
from memory_analysis.numbers import hours


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, as far as the level cares (plain data from the runner).

    ``service_died``: the service ended during the run; ``service_exit``: its ``exit``
    block (``description``, ``signal``, ``oom_killed``) where known; ``died_during``:
    "during the load" or "during the run". ``load_failure``: the load tester's own error
    when the load did not run as asked, else None.
    """

    service_died: bool = False
    service_exit: dict[str, Any] | None = None
    died_during: str = "during the run"
    load_failure: str | None = None
    # Processes of the service the kernel killed for memory inside the limit the runner
    # ran it in (a worker may be killed and restarted while the service runs on), and
    # when the first was ("during the load").
    oom_kills: int = 0
    oom_during: str = "during the run"


def death_reason(end: RunEnd, load_peak_mb: float | None) -> str:
    """Why a service that died is critical, in a sentence."""
    exit_info = end.service_exit or {}
    reason = f"the service {exit_info.get('description', 'died')} {end.died_during}"
    if exit_info.get("oom_killed"):
        reason += ": it ran out of memory (OOM kill counted in its cgroup)"
    elif exit_info.get("signal") == "SIGKILL":
        reason += ": SIGKILL is what the kernel's out-of-memory killer sends"
    if load_peak_mb:
        reason += f"; it had reached {load_peak_mb:.0f} MB"
    return reason


def host_state(seen: dict[str, float | None],
               service_peak_mb: float | None) -> dict[str, Any] | None:
    """The report's ``assessment.host``: the host's own memory when everything on it
    used ``HOST_FULL_PERCENT`` or more of it at some sample, else None. ``seen``:
    ``series.limits_seen``. Figures in MB and percent of the host's total, at the sample
    where the host was fullest; ``note``: the sentence the report lists in ``problems``.
    """
    percent = seen.get("host_peak_percent")
    total = seen.get("host_total_mb")
    if percent is None or shown(percent, 1) < HOST_FULL_PERCENT:
        return None
    used = seen.get("host_used_mb_at_peak")
    available = seen.get("host_available_mb_at_peak")
    state: dict[str, Any] = {
        "total_mb": None if total is None else round(total, 1),
        "used_percent": round(percent, 2),
        "used_mb": None if used is None else round(used, 1),
        "available_mb": None if available is None else round(available, 1),
        "service_peak_mb": None if service_peak_mb is None else round(service_peak_mb, 1),
    }
    figures = (f"{used:,.0f} of {total:,.0f} MB in use, {available:,.0f} MB available"
               if used is not None and total and available is not None else "")
    held = ""
    if used is not None and service_peak_mb is not None:
        # The service held at most its peak then: the rest is other programs', at least.
        others = max(used - service_peak_mb, 0.0)
        held = (f"; other programs held at least {others:,.0f} MB of it, the service "
                f"{service_peak_mb:,.1f} MB at its peak" if others > service_peak_mb
                else f"; the service held {service_peak_mb:,.1f} MB of it at its peak")
    state["note"] = (f"the host's memory (everything running on it) was "
                     f"{shown(percent, 1):.1f} % used at its fullest"
                     + (f" ({figures})" if figures else "") + held
                     + ": the level judges the service's own memory, but on a host this "
                     "full the service may be slowed, swapped out or killed by the kernel's "
                     "out-of-memory killer")
    return state


def held_matters(held_mb: float | None, limit_mb: float | None) -> bool:
    """Memory held after the load is large enough to matter to sizing: one band of the
    table (10 % of the limit) or more. Unknown limit: it matters."""
    if held_mb is None:
        return False
    if not limit_mb:
        return True
    return shown(max(held_mb, 0.0) * 100.0 / limit_mb, 1) >= HELD_MATTERS_PERCENT_OF_LIMIT


def peak_level(percent: float | None, judged: dict[str, Any]) -> tuple[str | None, str]:
    """The peak column: level and reason."""
    if percent is None:
        return None, "peak memory was not observed"
    p = shown(percent, 1)
    of = describe(judged)
    if p > PEAK_CRITICAL_PERCENT:
        return "critical", f"peak memory {p:.1f} % of {of} is over {PEAK_CRITICAL_PERCENT:.0f} %"
    if p >= PEAK_WARNING_PERCENT:
        return "warning", (f"peak memory {p:.1f} % of {of} is in the "
                           f"{PEAK_WARNING_PERCENT:.0f}-{PEAK_CRITICAL_PERCENT:.0f} % band")
    return "safe", f"peak memory {p:.1f} % of {of} is under {PEAK_WARNING_PERCENT:.0f} %"


def recovery_level(recovery_percent: float | None, leak: dict[str, Any] | None,
                   held_mb: float | None, limit_mb: float | None,
                   growth_negligible: bool) -> tuple[str | None, str]:
    """The recovery column, read for growth that matters: level and reason."""
    verdict = (leak or {}).get("verdict")
    if verdict == "leak":
        rate = (leak or {}).get("slope_mb_per_min")
        ci = (leak or {}).get("slope_ci_mb_per_min")
        return "critical", ("memory kept growing (a leak"
                            + (f", {rate_text(rate, ci)}" if rate is not None else "") + ")")
    lasts = (leak or {}).get("headroom_lasts_h")
    if verdict == "too short to tell" and lasts is not None:
        rate = (leak or {}).get("slope_mb_per_min") or 0.0
        ci = (leak or {}).get("slope_ci_mb_per_min")
        return "warning", (f"memory grew {rate_text(rate, ci)} under load: by its best fit the "
                           f"headroom lasts about {hours(lasts)}, and the run was too "
                           "short to tell whether it stops in time")
    if recovery_percent is None:
        return None, "recovery was not measured (no cooldown)"
    r = shown(recovery_percent, 0)
    if growth_negligible:
        return "safe", "memory hardly grew under load (within the noise): nothing to recover"
    if r > RECOVERY_SAFE_PERCENT:
        return "safe", f"recovery {r:.0f} % after load is over {RECOVERY_SAFE_PERCENT:.0f} %"
    held = max(held_mb or 0.0, 0.0)
    share = held * 100.0 / limit_mb if limit_mb else None
    held_text = (f"{shown(held, 1):.1f} MB held after the load"
                 + (f" ({shown(share, 1):.1f} % of the limit)" if share is not None else ""))
    still = (" and stopped growing" if verdict == "no leak" else
             "; whether it has stopped growing could not be told")
    if not held_matters(held, limit_mb):
        return "safe", (f"recovery {r:.0f} %, but {held_text}{still}: small against the "
                        f"memory it gets (under {HELD_MATTERS_PERCENT_OF_LIMIT:.0f} %), and "
                        "sized for, as the peak includes it")
    band = ("is in the " f"{RECOVERY_CRITICAL_PERCENT:.0f}-{RECOVERY_SAFE_PERCENT:.0f} % band"
            if r >= RECOVERY_CRITICAL_PERCENT else
            f"is under {RECOVERY_CRITICAL_PERCENT:.0f} %")
    return "warning", (f"recovery {r:.0f} % {band}: {held_text}{still}; sized for (the peak "
                       "includes it), but it leaves less room for spikes")


def assess_level(peak_percent: float | None, recovery_percent: float | None,
                 judged: dict[str, Any], leak: dict[str, Any] | None = None,
                 held_mb: float | None = None, growth_negligible: bool = False,
                 end: RunEnd | None = None, load_peak_mb: float | None = None,
                 requests: int | None = None) -> dict[str, Any]:
    """The report's ``assessment``: ``level`` ("safe", "warning", "critical", or
    "unknown" when neither column was observed, or the load sent no request),
    ``reasons`` (the deciding ones first), ``judged_against`` and
    ``peak_percent_of_limit``.

    ``peak_percent``: the service's peak as a share of ``judged["limit_mb"]`` (for a
    cgroup, its working set of its limit). ``end``: how the run ended (a service that
    died is critical, with ``load_peak_mb`` in the reason; a failed load is named first,
    and with ``requests`` 0 no level is claimed)."""
    verdicts = [peak_level(peak_percent, judged),
                recovery_level(recovery_percent, leak, held_mb, judged.get("limit_mb"),
                               growth_negligible)]
    known = [level for level, _ in verdicts if level is not None]
    out: dict[str, Any] = {"judged_against": judged,
                           "peak_percent_of_limit": None if peak_percent is None
                           else round(peak_percent, 2)}
    if not known:
        level, reasons = "unknown", [reason for _, reason in verdicts]
    else:
        level = next(name for name in ORDER if name in known)
        reasons = [reason for lvl, reason in verdicts if lvl == level]
        reasons += [reason for lvl, reason in verdicts if lvl != level]
        if judged.get("source") == "host":
            reasons.append("judged against the host's memory, as no container limit, "
                           "--target-memory or --plan was given; the service will get less "
                           "in the cloud")
    end = end or RunEnd()
    if end.service_died:
        level = "critical"
        reasons.insert(0, death_reason(end, load_peak_mb))
    elif end.oom_kills:
        level = "critical"
        reasons.insert(0, f"the kernel killed {end.oom_kills} of the service's processes "
                          f"for memory {end.oom_during}, inside {describe(judged)}: the "
                          "service went on (a worker restarted), but the requests they "
                          "held were lost")
    if end.load_failure is not None:
        # Whatever memory did, it did without the load the run was about.
        reasons.insert(0, "the load did not run as asked: " + end.load_failure)
        if not requests:
            level = "unknown"
    return {"level": level, "reasons": reasons, **out}
