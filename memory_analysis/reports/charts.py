"""Pictures of a run as PNG files, drawn with matplotlib from the reports' JSON alone:
the memory timeline (phases shaded, alerts marked, 80 % and 90 % of the memory the
service is judged against, the minimum and recommended memory, a second axis in percent
of that memory) and the load timeline on the same clock (requests per second, p95
latency, failures).

Reporters compute nothing: every figure drawn is in the JSON already; placing a load
row on the monitor's clock is its run's ``start_t`` plus the row's second.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import IO, Any

from memory_analysis.analysis.series import memory_of
from memory_analysis.levels import PEAK_CRITICAL_PERCENT, PEAK_WARNING_PERCENT
from memory_analysis.numbers import amount, count, known

# Pixels of each PNG: width and height (at DPI dots per inch).
SIZE_PX = (1200, 500)
DPI = 100
PHASE_COLOURS = {"baseline": "#dde8f5", "load": "#fbe3d0", "cooldown": "#dff2e1",
                 "attribute": "#efe0f5"}
MEMORY_PNG = "memory_timeline.png"
COMPARISON_PNG = "comparison_timeline.png"
LOAD_PNG = "load_timeline.png"


def _figure(rows: int = 1) -> tuple[Any, Any]:
    # Its notices ("building the font cache" on a first run, a temporary cache
    # directory where the home is read-only) are not the tool's output.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib
    matplotlib.use("Agg")  # files only: no screen is needed, none is opened
    matplotlib.rcParams["svg.hashsalt"] = "memory-analysis"  # the same ids every time
    from matplotlib import pyplot as plt
    figure, axes = plt.subplots(rows, 1, figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI),
                                dpi=DPI, sharex=True, squeeze=False)
    return figure, [row[0] for row in axes]


def _save(figure: Any, path: str | Path | IO[str]) -> None:
    """To a file (its suffix says PNG or SVG), or as SVG text to an open text stream."""
    from matplotlib import pyplot as plt
    figure.tight_layout()
    if isinstance(path, (str, Path)):
        figure.savefig(path, dpi=DPI)
    else:
        figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)


def svg(draw: Any, *args: Any, **options: Any) -> str:
    """A chart as SVG text, to embed in a page: ``svg(memory_timeline, samples, report)``."""
    text = io.StringIO()
    draw(*args, text, **options)
    body = text.getvalue()
    body = body[body.index("<svg"):]  # without the XML prolog and doctype
    # Without matplotlib's RDF metadata block: a page of ours needs none of it.
    start, end = body.find("<metadata>"), body.find("</metadata>")
    return body[:start] + body[end + len("</metadata>"):] if 0 <= start < end else body


def _legend_below(axes: Any, columns: int = 4) -> None:
    """The legend under the plot, where it covers no line."""
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="small",
                ncol=columns, frameon=False)


def _shade_phases(axes: Any, phases: dict[str, Any]) -> None:
    for name, phase in phases.items():
        if phase.get("start_t") is None or phase.get("end_t") is None:
            continue
        axes.axvspan(phase["start_t"], phase["end_t"], color=PHASE_COLOURS.get(name, "#eeeeee"),
                     zorder=0, label=name)


def _memory_points(samples: list[dict[str, Any]], metric: str | None
                   ) -> list[tuple[float, float]]:
    """(t, MB) of each sample that has the service's memory by ``metric``."""
    points = []
    for sample in samples:
        mb = memory_of(sample, metric)
        if mb is not None:
            points.append((sample["t"], mb))
    return points


def memory_timeline(samples: list[dict[str, Any]], report: dict[str, Any],
                    path: str | Path | IO[str]) -> None:
    """The service's memory over the run, as the comprehensive ``report`` judged it."""
    memory = report.get("memory") or {}
    metric = memory.get("metric")
    points = _memory_points(samples, metric)
    figure, (axes,) = _figure()
    _shade_phases(axes, report.get("phases") or {})
    if points:
        axes.plot([t for t, _ in points], [mb for _, mb in points], color="#1f4e9c",
                  linewidth=1.5, label=f"service memory ({metric})")
    judged = (report.get("assessment") or {}).get("judged_against") or {}
    limit = judged.get("limit_mb")
    needs = report.get("recommendations") or {}
    lines = [(needs.get("recommended_memory_mb"), "recommended", "#2e7d32", "-"),
             (needs.get("min_memory_mb"), "minimum", "#9e9d24", "-.")]
    lines += [(judged.get("warning_mb"), f"warning ({PEAK_WARNING_PERCENT:.0f} %)", "#ef6c00",
               "--"),
              (judged.get("critical_mb"), f"critical ({PEAK_CRITICAL_PERCENT:.0f} %)",
               "#c62828", "--")]
    top = max([mb for _, mb in points] or [0.0])
    for value, label, colour, style in lines:
        if value is None:
            continue
        # A line far above the samples (80 % of a 24 GB host) would flatten them: it
        # is named in the legend with its figure instead.
        if value <= max(top * 1.6, 1.0):
            axes.axhline(value, color=colour, linestyle=style, linewidth=1,
                         label=f"{label} {value:,.0f} MB")
        else:
            axes.plot([], [], color=colour, linestyle=style, linewidth=1,
                      label=f"{label} {value:,.0f} MB (above)")
    leak = memory.get("leak") or {}
    # Rounded as its interval (the band beside it) warrants, as the summary gives it.
    trend = known(leak.get("slope_mb_per_min"), leak.get("slope_ci_mb_per_min"), "MB/min")
    for index, line in enumerate(leak.get("trend_lines") or []):
        span = [line["start_t"], line["end_t"]]
        axes.plot(span, [line["start_mb"], line["end_mb"]], color="#000000", linewidth=1,
                  label=(f"trend {trend}" if index == 0 else None))
        axes.fill_between(span, [line["low_start_mb"], line["low_end_mb"]],
                          [line["high_start_mb"], line["high_end_mb"]], color="#000000",
                          alpha=0.12, label="its 95 % interval" if index == 0 else None)
    for alert in report.get("alerts") or []:
        axes.axvline(alert.get("t", 0.0), color="#c62828", linewidth=0.8, linestyle=":")
    _rehearsal_marks(axes, report.get("rehearsal") or {})
    axes.set_xlabel("seconds since the monitor started")
    axes.set_ylabel("MB")
    if limit:
        percent = axes.secondary_yaxis("right", functions=(lambda mb: mb * 100.0 / limit,
                                                           lambda pc: pc * limit / 100.0))
        percent.set_ylabel(f"% of {limit:,.0f} MB ({judged.get('source', '')})")
    axes.set_title(f"Memory: peak {amount(memory.get('peak_mb') or 0, 'MB')}, "
                   f"level {((report.get('assessment') or {}).get('level') or '-').upper()}")
    _legend_below(axes)
    _save(figure, path)


def _rehearsal_marks(axes: Any, rehearsal: dict[str, Any]) -> None:
    """The memory limit the service ran in and its OOM kill; with --find-minimum, each
    round's limit, green where it served the load, red where it did not."""
    if rehearsal.get("limit_mb"):
        axes.axhline(rehearsal["limit_mb"], color="#000000", linewidth=1.5,
                     label=f"memory limit {amount(rehearsal['limit_mb'], 'MB')}")
    if rehearsal.get("killed_at_t") is not None:
        axes.axvline(rehearsal["killed_at_t"], color="#b71c1c", linewidth=2,
                     label=f"OOM kill at {rehearsal['killed_at_t']:.1f} s "
                           f"({rehearsal.get('killed_in_phase')})")
    for row in rehearsal.get("rounds") or []:
        if row.get("limit_mb") is None:
            continue
        peak = amount(row["peak_mb"], "MB") if row.get("peak_mb") is not None else "-"
        axes.axhline(row["limit_mb"], color="#2e7d32" if row.get("served") else "#c62828",
                     linewidth=0.8, linestyle=(0, (1, 2)),
                     label=f"round {row['round']}: {amount(row['limit_mb'], 'MB')}, "
                           f"{row['outcome']} (peak {peak})")


def load_timeline(runs: list[dict[str, Any]], report: dict[str, Any],
                  path: str | Path | IO[str],
                  clock: str = "seconds since the monitor started") -> None:
    """Requests per second, p95 latency and failures of each load run (``runs``: the
    comprehensive report's ``timeline.steps``, each with its load report's
    ``timeline`` rows as ``rows``), on the memory timeline's clock."""
    figure, (rate_axes, latency_axes) = _figure(rows=2)
    for axes in (rate_axes, latency_axes):
        _shade_phases(axes, report.get("phases") or {})
    for index, run in enumerate(runs):
        start = run.get("start_t") or 0.0
        rows = run.get("rows") or []
        t = [start + row["t"] for row in rows]
        first = index == 0
        # Markers: a run of a second or two is one or two points.
        rate_axes.plot(t, [row["requests"] for row in rows], color="#1f4e9c", marker=".",
                       label="requests in the second" if first else None)
        rate_axes.bar(t, [row.get("failures", 0) for row in rows], color="#c62828", width=0.8,
                      label="failures" if first else None)
        latency_axes.plot(t, [row.get("p95_ms") for row in rows], color="#6a1b9a", marker=".",
                          label="p95 latency" if first else None)
    rate_axes.set_ylabel("requests/s")
    latency_axes.set_ylabel("p95 latency, ms")
    latency_axes.set_xlabel(clock)
    rate_axes.legend(loc="upper right", fontsize="small")
    load = report.get("load_test") or {}
    rate_axes.set_title(f"Load: {count(load.get('requests', 0))} requests, "
                        f"{amount(load.get('rps') or 0, 'req/s')}, p95 "
                        f"{amount((load.get('latency_ms') or {}).get('p95') or 0, 'ms')}")
    _save(figure, path)


def monitor_timeline(report: dict[str, Any], path: str | Path) -> None:
    """A monitor run alone (``memory_monitor.py --plot``): the tree's memory and the
    target's RSS, or the system's used memory without a target."""
    samples = report.get("samples") or []
    figure, (axes,) = _figure()
    series = [("tree memory", lambda s: (s.get("process") or {}).get("tree_mb")),
              ("target RSS", lambda s: (s.get("process") or {}).get("rss_mb")),
              ("cgroup working set", lambda s: (s.get("cgroup") or {}).get("working_set_mb"))]
    if not any(s.get("process") for s in samples):
        series = [("system used", lambda s: (s.get("system") or {}).get("used_mb"))]
    for label, value in series:
        points = [(s["t"], value(s)) for s in samples if value(s) is not None]
        if points:
            axes.plot([t for t, _ in points], [v for _, v in points], label=label)
    for alert in report.get("alerts") or []:
        axes.axvline(alert.get("t", 0.0), color="#c62828", linewidth=0.8, linestyle=":")
    _rehearsal_marks(axes, report.get("rehearsal") or {})
    axes.set_xlabel("seconds since the monitor started")
    axes.set_ylabel("MB")
    target = report.get("target") or {}
    axes.set_title(f"Memory of {target.get('name') or 'the system'}"
                   + (f" (PID {target['pid']})" if target.get("pid") else ""))
    _legend_below(axes)
    _save(figure, path)


def overlay(runs: list[tuple[str, list[dict[str, Any]], dict[str, Any]]],
            path: str | Path | IO[str]) -> None:
    """The memory timelines of several runs on one chart (``runs``: name, samples,
    comprehensive report), each by its own report's metric, on each run's own clock."""
    figure, (axes,) = _figure()
    for name, samples, report in runs:
        metric = (report.get("memory") or {}).get("metric")
        kept = _memory_points(samples, metric)
        axes.plot([t for t, _ in kept], [mb for _, mb in kept], linewidth=1.5,
                  label=f"{name}: peak "
                        f"{amount((report.get('memory') or {}).get('peak_mb') or 0, 'MB')}")
    axes.set_xlabel("seconds since each run's monitor started")
    axes.set_ylabel("MB")
    axes.set_title("Memory, run by run")
    _legend_below(axes, columns=2)
    _save(figure, path)
