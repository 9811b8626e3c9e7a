"""The runner's report as one self-contained HTML page (``memory_analysis_report.html``):
the charts inline as SVG, the verdict, the figures behind it and the run's setting, with
no script, stylesheet, font or image fetched from anywhere, so it opens offline.

Every string that came from a user or a service (scenario and endpoint names, paths,
commands, reasons quoting them) goes through ``html.escape``: ``_e``. Nothing is
computed here: every figure shown is in the JSON already.
"""

from __future__ import annotations

import html
from typing import Any

from memory_analysis.numbers import amount, count, fixed, hours, usd, with_interval
from memory_analysis.reports.plain import (
    CHEAPEST_HEADER,
    cheapest_rows,
    instances_header,
    instances_rows,
    instances_title,
    lasts_text,
    leak_heading,
    plan_memory_text,
    room_text,
)

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1250px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.level{display:inline-block;padding:.2em .8em;border-radius:.3em;color:#fff;font-weight:bold}
.safe{background:#2e7d32}.warning{background:#ef6c00}.critical{background:#c62828}
.unknown{background:#666}.bar{background:#1f4e9c;height:.8em;display:inline-block}
.chart svg{width:100%;height:auto}pre{background:#f6f6f6;padding:.6em;overflow:auto}
"""


def _page(title: str, body: str) -> str:
    """A whole page: ``title`` (escaped here) as its title and heading, ``body`` markup."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{_e(title)}</h1>{body}</body></html>\n")


def _e(value: Any) -> str:
    return html.escape("-" if value is None else str(value), quote=True)


def _n(value: Any, unit: str = "", digits: int | None = None) -> str:
    """As the terminal's figures (runner_console ``_num``): three significant figures,
    or ``digits`` places; escaped."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _e((amount(value) if digits is None else fixed(value, digits)) + unit)
    return _e(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells arrive escaped (``_e``/``_n``) or as markup made here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _titled(title: str, header: list[str], rows: list[list[str]]) -> str:
    """A table of text cells (escaped here) under its title."""
    return (f"<p><b>{_e(title)}</b></p>"
            + _table(header, [[_e(cell) for cell in row] for row in rows]))


def _list(items: list[Any]) -> str:
    return "<ul>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>" if items else ""


def _verdict(report: dict[str, Any]) -> str:
    assessment = report.get("assessment") or {}
    level = str(assessment.get("level") or "unknown")
    memory = report.get("memory") or {}
    leak = memory.get("leak") or {}
    judged = assessment.get("judged_against") or {}
    rows = [["baseline", _n(memory.get("baseline_mb"), " MB")],
            ["peak", _n(memory.get("peak_mb"), " MB")],
            ["growth under load", _n(memory.get("growth_mb"), " MB")],
            ["end of cooldown", _n(memory.get("cooldown_end_mb"), " MB")],
            ["recovery", _n(memory.get("recovery_percent"), " %", 0)],
            ["judged against",
             f"{_n(judged.get('limit_mb'), ' MB', 0)} ({_e(judged.get('source'))})"],
            ["peak of that", _n(assessment.get("peak_percent_of_limit"), " %", 1)],
            ["leak", _e(leak.get("verdict"))
             + (f" ({_e(leak.get('confidence'))} confidence)" if leak.get("confidence") else "")],
            ["memory trend", _e(with_interval(leak.get("slope_mb_per_min"),
                                              leak.get("slope_ci_mb_per_min"), "MB/min"))],
            ["detection limit", _n(leak.get("detection_limit_mb_per_min"), " MB/min")],
            ["growth shape", _e(leak.get("shape") or "-")],
            [f"more in {leak.get('horizon_h') or 72:.0f} h",
             _e(with_interval(leak.get("projected_growth_mb"),
                              leak.get("projected_growth_ci_mb"), "MB", lead=""))],
            ["headroom", _n(leak.get("headroom_mb"), " MB")]]
    if leak.get("bytes_per_request") is not None:
        rows.append(["kept per request", _e(count(leak["bytes_per_request"]) + " B")])
    if leak.get("time_to_limit_h") is not None:
        h = leak["time_to_limit_h"]
        rows.append(["limit reached in", _e(hours(h) if h > 0 else "already at the peak")])
    return (f'<p><span class="level {_e(level)}">{_e(level.upper())}</span></p>'
            + _list(assessment.get("reasons") or [])
            + (f"<p><b>{_e(leak_heading(leak))}:</b> {_e(leak.get('reason'))}</p>"
               if leak.get("reason") else "")
            + _table(["figure", "value"], rows) + _endpoints(leak))


def _endpoints(leak: dict[str, Any]) -> str:
    """--attribute: what each endpoint, sent alone, kept per request."""
    rows = leak.get("endpoints") or []
    skipped = (leak.get("attribution") or {}).get("skipped")
    if not rows:
        return f"<p><b>Attribution:</b> skipped: {_e(skipped)}</p>" if skipped else ""
    keeping = [row["name"] for row in rows if row.get("keeps")]
    table = [[_e(row["name"]), _e(row.get("category")), _e(count(row.get("requests"))),
              _e(count(row.get("bytes_per_request")) + " B"),
              "-" if not row.get("ci_bytes") else
              _e("{} to {} B".format(*[count(v) for v in row["ci_bytes"]])),
              "<b>keeps memory</b>" if row.get("keeps") else ""] for row in rows]
    return ("<p><b>Kept by:</b> "
            + (_e(", ".join(keeping)) if keeping
               else "no endpoint alone kept memory clearly above the others")
            + " (each endpoint sent alone after the load, --attribute)</p>"
            + _table(["endpoint", "category", "requests", "kept per request", "95 %", ""],
                     table))


def _requirements(report: dict[str, Any]) -> str:
    needs = report.get("recommendations") or {}
    rows = []
    for provider, plan in (needs.get("plans") or {}).items():
        if not plan:
            continue
        share = plan.get("peak_percent_of_plan")
        # The bar's length in pixels is the share as given: twice its percent.
        bar = (f'<span class="bar" style="width:{min(float(share), 100.0) * 2:.0f}px"></span> '
               if isinstance(share, (int, float)) else "")
        rows.append([_e(provider), _e(plan.get("plan")), _e(plan_memory_text(plan)),
                     _e(usd(plan.get("monthly_usd"))), _e(room_text(plan)),
                     bar + _n(share, " %", 1)]
                    + ([_e(lasts_text(plan))] if needs.get("sizing_note") else []))
    scaling = needs.get("scaling") or {}
    steps = [[_n(s.get("users"), "", 0), _n(s.get("mean_in_flight")),
              _n(s.get("level_mb"), " MB"), _n(s.get("peak_mb"), " MB")]
             for s in scaling.get("steps") or []]
    return (_table(["figure", "value"],
                   [["minimum memory", _n(needs.get("min_memory_mb"), " MB", 0)],
                    ["recommended memory", _n(needs.get("recommended_memory_mb"), " MB", 0)]])
            # A leak: the plans hold it only so long, and the page says so first.
            + (f"<p><b>Until the leak fills them:</b> {_e(needs['sizing_note'])}</p>"
               if needs.get("sizing_note") else "")
            + _table(["provider", "plan", "memory", "$/month", "headroom", "peak of the plan"]
                     + (["lasts"] if needs.get("sizing_note") else []), rows)
            + (_titled("Cheapest plan across providers (monthly on-demand, as of the "
                       "catalogs' dates)", CHEAPEST_HEADER, cheapest_rows(needs))
               if needs.get("cheapest") else "")
            + f"<p><b>Scaling:</b> {_e(scaling.get('strategy'))}: {_e(scaling.get('reason'))}</p>"
            + (_table(["users", "in flight", "level", "peak"], steps) if steps else "")
            + (f"<p>Memory against load: {_e(scaling.get('growth_shape'))}</p>"
               + _table(["fit", "value"], [[_e(k), _e(v)] for k, v in
                                           (scaling.get("fit") or {}).items()])
               if scaling.get("fit") else "")
            + (f"<p><b>Scaling by cost:</b> {_e(scaling['cost_note'])}</p>"
               + _titled(instances_title(scaling), instances_header(scaling),
                         instances_rows(scaling))
               if scaling.get("instances") else "")
            + _list(needs.get("suggestions") or []))


def _latency(report: dict[str, Any], load: dict[str, Any] | None) -> str:
    def row(name: str, figures: dict[str, Any]) -> list[str]:
        latency = figures.get("latency_ms") or {}
        return [_e(name), _e(count(figures.get("requests"))), _n(latency.get("p50"), " ms"),
                _n(latency.get("p95"), " ms"), _n(latency.get("p99"), " ms"),
                _n(latency.get("max"), " ms"),
                _e(f"{figures['error_rate']:.2%}") if "error_rate" in figures
                else _e(figures.get("failures"))]
    summary = report.get("load_test") or {}
    categories = [row(name, figures)
                  for name, figures in (summary.get("categories") or {}).items()]
    endpoints = [row(f"{e.get('method', '')} {e.get('name', '')} ({e.get('path', '')})", e)
                 for e in (load or {}).get("endpoints") or []]
    header = ["", "requests", "p50", "p95", "p99", "max", "errors"]
    return (_table(["category"] + header[1:], [row("all", summary)] + categories)
            + (_table(["endpoint"] + header[1:], endpoints) if endpoints else ""))


def _breakdown(report: dict[str, Any]) -> str:
    breakdown = report.get("breakdown") or {}
    parts = []
    processes = (breakdown.get("processes") or {}).get("processes") or []
    if processes:
        parts.append("<h3>Processes</h3>" + _table(
            ["pid", "name", "role", "baseline", "peak", "growth under load", "held after"],
            [[_e(p.get("pid")), _e(p.get("name")), _e(p.get("role")),
              _n(p.get("baseline_mb"), " MB"), _n(p.get("peak_mb"), " MB"),
              _n(p.get("growth_under_load_mb"), " MB"), _n(p.get("held_after_load_mb"), " MB")]
             for p in processes]) + _list((breakdown.get("processes") or {}).get("notes") or []))
    gc = breakdown.get("gc") or {}
    if gc:
        parts.append("<h3>Garbage collection</h3>" + _table(
            ["phase", "collections gen 0/1/2", "collected", "uncollectable", "time in GC",
             "longest pause", "share of time"],
            [[_e(phase), _e(" / ".join(str(c) for c in f.get("collections") or [])),
              _e(count(sum(f.get("collected") or []))), _e(f.get("uncollectable")),
              _n(f.get("pause_total_s"), " s", 3),
              _n((f.get("pause_longest_s") or 0) * 1000.0, " ms", 1),  # as the terminal shows it
              _n(f.get("gc_time_percent"), " %", 2)] for phase, f in gc.items()]))
    components = breakdown.get("components") or {}
    if components.get("available"):
        parts.append("<h3>Memory by component</h3>" + _table(
            ["component", "end of baseline", "peak", "end of cooldown", "share at peak"],
            [[_e(c.get("name")), _n(c.get("baseline_end_mb"), " MB"),
              _n(c.get("peak_mb"), " MB"), _n(c.get("cooldown_end_mb"), " MB"),
              _n(c.get("peak_share_percent"), " %")]
             for c in components.get("components") or []]) + _list([components.get("note")]))
    elif components.get("reason"):
        parts.append(f"<p>Memory by component: {_e(components['reason'])}</p>")
    return "".join(parts)


def _rehearsal(block: dict[str, Any]) -> str:
    """The service run in a memory limit; with --find-minimum, every round."""
    parts = [f"<p>{_e(block.get('summary'))}</p>"]
    if block.get("minimum_summary"):
        parts.append(f"<p><strong>Minimum:</strong> {_e(block['minimum_summary'])}</p>")
    rounds = block.get("rounds") or []
    if rounds:
        parts.append(_table(
            ["round", "limit", "outcome", "peak", "p95", "requests", "failed", "why"],
            [[_e(r.get("round")), _n(r.get("limit_mb"), " MB") if r.get("limit_mb") else
              "none", _e(r.get("outcome")), _n(r.get("peak_mb"), " MB"),
              _n(r.get("p95_ms"), " ms", 1), _e(count(r.get("requests"))),
              _e(count(r.get("failures"))), _e(r.get("why"))] for r in rounds]))
    return "".join(parts)


def render(report: dict[str, Any], load: dict[str, Any] | None,
           charts: dict[str, str]) -> str:
    """The page. ``charts``: SVG text by name (``memory``, ``load``), made by matplotlib
    (its text is escaped in the SVG); ``load``: the load tester's report, for endpoints."""
    service = report.get("service") or {}
    title = f"Memory analysis of {service.get('command') or service.get('url') or 'the service'}"
    figures = "".join(f'<div class="chart">{svg}</div>' for svg in charts.values())
    sections = [
        ("Verdict", _verdict(report)),
        ("Timelines", figures or "<p>No samples: nothing to draw.</p>"),
        ("Latency", _latency(report, load)),
        *([("Rehearsal in a memory limit", _rehearsal(report["rehearsal"]))]
          if report.get("rehearsal") else []),
        ("Memory requirements and plans", _requirements(report)),
        ("Inside the service", _breakdown(report) or "<p>No per-process figures.</p>"),
        ("Problems and alerts", _list(report.get("problems") or [])
         + _list([a.get("message") for a in report.get("alerts") or []]) or "<p>None.</p>"),
        ("Configuration and environment",
         _table(["setting", "value"], [[_e(k), _e(v)] for k, v in
                                       (report.get("environment") or {}).items()])
         + _table(["option", "value"], [[_e(k), _e(v)] for k, v in
                                        (report.get("config") or {}).items()])),
    ]
    body = "".join(f"<h2>{_e(name)}</h2>{content}" for name, content in sections)
    return _page(title, f"<p>{_e(report.get('end_reason'))}, "
                 f"{'complete' if report.get('complete') else 'incomplete'}; "
                 f"suite {_e(report.get('version'))}</p>{body}")


def render_comparison(comparison: dict[str, Any], chart: str) -> str:
    """Two runs side by side (``analysis.compare``), with their memory overlaid."""
    a, b = comparison["a"], comparison["b"]
    def signed(value: Any) -> str:
        return _e(f"{value:+,.2f}") if isinstance(value, (int, float)) else _e(value)
    rows = [[_e(r["figure"]), _n(r["a"], "", 2), _n(r["b"], "", 2), signed(r["delta"]),
             signed(r["delta_percent"]) + (" %" if r["delta_percent"] is not None else ""),
             _e(r["unit"])] for r in comparison["figures"]]
    verdicts = [[_e(v["figure"]), _e(v["a"]), _e(v["b"])] for v in comparison["verdicts"]]
    bigger = comparison.get("bigger_peak")
    summary = (f"<p>The bigger peak: <b>{_e(bigger)}</b>.</p>" if bigger
               else "<p>Both peaks are the same.</p>")
    title = f"Comparison: {a} and {b}"
    return _page(title, summary
                 + _table(["verdict", a, b], verdicts)
                 + _table(["figure", a, b, "change", "change %", "unit"], rows)
                 + f'<div class="chart">{chart}</div>')


def render_load(load: dict[str, Any], chart: str) -> str:
    """A load tester report alone as a page: totals, latency per category and endpoint,
    its timeline."""
    totals = load.get("totals") or {}
    config = load.get("config") or {}
    summary = {**totals, "latency_ms": load.get("latency_ms") or {},
               "categories": load.get("categories") or {}}
    title = f"Load test of {config.get('url') or 'the service'}"
    body = (_table(["figure", "value"],
                   [["requests", _n(totals.get("requests"), "", 0)],
                    ["requests/s", _n(totals.get("rps"))],
                    ["failures", _n(totals.get("failures"), "", 0)],
                    ["duration", _n(totals.get("duration_s"), " s")]])
            + _latency({"load_test": summary}, load)
            + f'<div class="chart">{chart}</div>'
            + _list(load.get("warnings") or [])
            + _table(["option", "value"], [[_e(k), _e(v)] for k, v in config.items()]))
    return _page(title, body)


def write_load_page(load: dict[str, Any], path: str) -> None:
    """``load_tester.py --html``: the page, with the load timeline drawn."""
    from memory_analysis.reports import charts
    from memory_analysis.reports.jsonio import write_text_atomic
    totals = load.get("totals") or {}
    # The chart's title reads the figures where a runner report has them.
    header = {"load_test": {"requests": totals.get("requests"), "rps": totals.get("rps"),
                            "latency_ms": load.get("latency_ms") or {}}}
    runs = [{"start_t": 0.0, "rows": load.get("timeline") or []}]
    chart = charts.svg(charts.load_timeline, runs, header,
                       clock="seconds since the load started")
    write_text_atomic(path, render_load(load, chart))
