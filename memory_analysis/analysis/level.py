"""Deployment level by the seed's table: safe, warning or critical, with the reasons.

| level    | peak system memory | recovery after load |
|----------|--------------------|---------------------|
| safe     | under 80 %         | over 80 %           |
| warning  | 80-90 %            | 60-80 %             |
| critical | over 90 %          | under 60 %          |

Either column alone can raise the level; the worst one decides. Boundaries belong to
the milder level that names them: 80 % and 90 % system memory are warning, a
recovery of exactly 80 % or 60 % is warning.

"System memory" is the container's usage of its memory limit when a cgroup limit is
known (the limit is what kills the service) and the host's otherwise; the caller says
which through ``system_source``, and the reasons name it.
"""

from __future__ import annotations

from typing import Any

SOURCE_NAMES = {"cgroup_limit": "of the container's memory limit", "host": "of the host's memory"}


def _system(percent: float | None, source: str) -> tuple[str | None, str]:
    where = SOURCE_NAMES.get(source, "")
    if percent is None:
        return None, "peak system memory was not observed"
    if percent > 90:
        return "critical", f"peak system memory {percent:.1f} % {where} is over 90 %"
    if percent >= 80:
        return "warning", f"peak system memory {percent:.1f} % {where} is in the 80-90 % band"
    return "safe", f"peak system memory {percent:.1f} % {where} is under 80 %"


def _recovery(percent: float | None) -> tuple[str | None, str]:
    if percent is None:
        return None, "recovery was not measured"
    if percent < 60:
        return "critical", f"recovery {percent:.0f} % after load is under 60 %"
    if percent <= 80:
        return "warning", f"recovery {percent:.0f} % after load is in the 60-80 % band"
    return "safe", f"recovery {percent:.0f} % after load is over 80 %"


def assess_level(peak_system_percent: float | None, recovery_percent: float | None,
                 system_source: str = "host", leak: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's ``assessment`` block: ``level`` and the ``reasons`` that decided it.

    Level "unknown" only when neither figure was observed (e.g. a remote service).
    A suspected leak and memory held without a leak are added as reasons; the level
    itself follows the table alone.
    """
    verdicts = [_system(peak_system_percent, system_source), _recovery(recovery_percent)]
    known = [level for level, _ in verdicts if level is not None]
    if not known:
        return {"level": "unknown", "reasons": [reason for _, reason in verdicts]}
    level = next(name for name in ("critical", "warning", "safe") if name in known)
    # The reasons at the deciding level come first; the others follow for context.
    reasons = [reason for lvl, reason in verdicts if lvl == level]
    reasons += [reason for lvl, reason in verdicts if lvl != level]
    if leak and leak.get("suspected"):
        reasons.append(f"leak suspected ({leak.get('confidence')} confidence): "
                       f"{leak.get('reason')}")
    elif recovery_percent is not None and recovery_percent <= 80 and leak is not None \
            and leak.get("suspected") is False:
        reasons.append("memory stayed up after the load but stopped growing: held (a cache, "
                       "or the allocator keeping freed memory), not leaked")
    return {"level": level, "reasons": reasons}
