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
of its cgroup limit (the cgroup's working set, what the OOM killer acts on), of the
user's target or plan (the service's peak), else of the host (the host's used memory,
as everything on it competes for it).

Recovery is read for growth that matters to sizing. Nearly every healthy CPython
service keeps what it once allocated (a cache, pymalloc's arenas, glibc's heaps), so
poor recovery alone is not alarming:

- growth within the noise, or memory that came back (over 80 %): safe;
- memory still growing (a leak): critical, however much came back;
- memory held that stopped growing: sized for (the peak includes it), so it is safe when
  smaller than one band of the table (10 % of the limit) and a warning when larger;
  a recovery in the 60-80 % band is a warning only for growth that large, too.
"""

from __future__ import annotations

from typing import Any

from memory_analysis.analysis.leak import rate_text
from memory_analysis.analysis.limits import describe
from memory_analysis.analysis.thresholds import (
    HELD_MATTERS_PERCENT_OF_LIMIT,
    PEAK_CRITICAL_PERCENT,
    PEAK_WARNING_PERCENT,
    RECOVERY_CRITICAL_PERCENT,
    RECOVERY_SAFE_PERCENT,
    shown,
)
from memory_analysis.levels import ORDER


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
        return "critical", ("memory kept growing (a leak"
                            + (f", {rate_text(rate)}" if rate is not None else "") + ")")
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
                 held_mb: float | None = None, growth_negligible: bool = False
                 ) -> dict[str, Any]:
    """The report's ``assessment``: ``level`` ("safe", "warning", "critical", or
    "unknown" when neither column was observed), ``reasons`` (the deciding ones first),
    ``judged_against`` and ``peak_percent_of_limit``."""
    verdicts = [peak_level(peak_percent, judged),
                recovery_level(recovery_percent, leak, held_mb, judged.get("limit_mb"),
                               growth_negligible)]
    known = [level for level, _ in verdicts if level is not None]
    out: dict[str, Any] = {"judged_against": judged,
                           "peak_percent_of_limit": None if peak_percent is None
                           else round(peak_percent, 2)}
    if not known:
        return {"level": "unknown", "reasons": [reason for _, reason in verdicts], **out}
    level = next(name for name in ORDER if name in known)
    reasons = [reason for lvl, reason in verdicts if lvl == level]
    reasons += [reason for lvl, reason in verdicts if lvl != level]
    if judged.get("source") == "host":
        reasons.append("judged against the host's memory, as no container limit, "
                       "--target-memory or --plan was given; the service will get less in "
                       "the cloud")
    return {"level": level, "reasons": reasons, **out}
