"""How the runner talks to a person: progress lines during the run, then the verdict as
tables (rich on a terminal, plain text otherwise). Everything shown comes from the
finished report; nothing is computed here."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from memory_analysis.numbers import amount, count, fixed, hours, usd, with_interval
from memory_analysis.reports.plain import (
    CHEAPEST_HEADER,
    LivePanel,
    PlainLines,
    cheapest_rows,
    instances_header,
    instances_rows,
    instances_title,
    lasts_text,
    leak_heading,
    plan_memory_text,
    room_text,
)


def _num(value: Any, unit: str = "", digits: int | None = None) -> str:
    """A figure and its unit (" MB"): to three significant figures (numbers.py), or to
    ``digits`` places where the figure is a setting or a share read at that precision."""
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return (amount(value) if digits is None else fixed(value, digits)) + unit
    return str(value)


def _percent(rate: float | None) -> str:
    """A 0-1 rate shown as a percentage."""
    return "-" if rate is None else f"{rate:.2%}"


def summary_tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each table of the summary, as display strings. A title
    of several lines is an introduction, then the table's own title on the last line."""
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    memory = report.get("memory") or {}
    metric = memory.get("metric") or "memory"
    phases = report.get("phases") or {}
    if phases:
        rows = []
        for name, phase in phases.items():
            mem = phase.get("memory_mb") or {}
            sysp = phase.get("system_percent") or {}
            rows.append([name, _num(phase.get("duration_s"), " s", 1),
                         count(phase.get("samples", 0)), _num(mem.get("min"), " MB"),
                         _num(mem.get("mean"), " MB"), _num(mem.get("max"), " MB"),
                         _num(mem.get("last"), " MB"), _num(sysp.get("max"), " %", 1)])
        tables.append((f"Phases ({metric})", ["phase", "length", "samples", "min", "mean",
                                               "max", "last", "system max"], rows))
    if memory.get("observed", True) and memory.get("peak_mb") is not None:
        leak = memory.get("leak") or {}
        assessment = report.get("assessment") or {}
        judged = assessment.get("judged_against") or {}
        ci = leak.get("slope_ci_mb_per_min")
        rows = [["baseline", _num(memory.get("baseline_mb"), " MB")],
                ["peak", _num(memory.get("peak_mb"), " MB")],
                ["growth under load", _num(memory.get("growth_mb"), " MB")],
                ["end of cooldown", _num(memory.get("cooldown_end_mb"), " MB")],
                ["recovery", _num(memory.get("recovery_percent"), " %", 0)],
                ["judged against", f"{_num(judged.get('limit_mb'), ' MB', 0)} "
                                   f"({judged.get('source', '-')})"],
                # To the place the level's reason gives it.
                ["peak of that", _num(assessment.get("peak_percent_of_limit"), " %", 1)],
                ["leak", f"{leak.get('verdict', '-')}"
                 + (f" ({leak.get('confidence')} confidence)" if leak.get("confidence") else "")],
                ["memory trend", with_interval(leak.get("slope_mb_per_min"), ci, "MB/min")],
                ["detection limit", _num(leak.get("detection_limit_mb_per_min"), " MB/min")]]
        if leak.get("shape"):
            rows.append(["growth shape", str(leak["shape"])])
        grown = leak.get("projected_growth_ci_mb")
        if grown:
            rows.append([f"more in {leak.get('horizon_h', 72):.0f} h",
                         with_interval(leak.get("projected_growth_mb"), grown, "MB", lead="")])
            rows.append(["headroom", _num(leak.get("headroom_mb"), " MB")])
        if leak.get("bytes_per_request") is not None:
            rows.append(["kept per request", count(leak.get("bytes_per_request")) + " B"])
        if leak.get("time_to_limit_h") is not None:
            h = leak["time_to_limit_h"]
            rows.append(["limit reached in", hours(h) if h > 0 else "already at the peak"])
        tables.append(("Memory", ["figure", "value"], rows))
    endpoints = ((memory.get("leak") or {}).get("endpoints")) or []
    if endpoints:
        rows = [[row["name"], row.get("category") or "-", count(row.get("requests")),
                 count(row.get("bytes_per_request")) + " B",
                 "-" if not row.get("ci_bytes") else
                 f"{row['ci_bytes'][0]:,} to {row['ci_bytes'][1]:,} B",
                 "keeps memory" if row.get("keeps") else ""] for row in endpoints]
        tables.append(("Which endpoint keeps the memory (--attribute, each alone)",
                       ["endpoint", "category", "requests", "kept per request", "95 %", ""],
                       rows))
    load = report.get("load_test") or {}
    if load:
        latency = load.get("latency_ms") or {}
        rows = [["all", count(load.get("requests", 0)), _percent(load.get("error_rate")),
                 _num(latency.get("p50"), " ms"), _num(latency.get("p95"), " ms"),
                 _num(latency.get("p99"), " ms")]]
        for name, category in (load.get("categories") or {}).items():
            cat_latency = category.get("latency_ms") or {}
            rows.append([name, count(category.get("requests", 0)),
                         _percent(category.get("error_rate")),
                         _num(cat_latency.get("p50"), " ms"), _num(cat_latency.get("p95"), " ms"),
                         _num(cat_latency.get("p99"), " ms")])
        tables.append((f"Load ({_num(load.get('rps'), ' req/s')})",
                       ["category", "requests", "errors", "p50", "p95", "p99"], rows))
    tables += _breakdown_tables(report.get("breakdown") or {})
    recommendations = report.get("recommendations") or {}
    if recommendations.get("recommended_memory_mb") is not None:
        plans = [(provider, plan) for provider, plan
                 in (recommendations.get("plans") or {}).items() if plan]
        rows = [[provider, str(plan.get("plan")), plan_memory_text(plan),
                 usd(plan.get("monthly_usd")), room_text(plan)] for provider, plan in plans]
        header = ["provider", "plan", "memory", "$/month", "headroom"]
        sizes = (f"{_num(recommendations['recommended_memory_mb'], ' MB', 0)} recommended "
                 f"({_num(recommendations.get('min_memory_mb'), ' MB', 0)} minimum)")
        if recommendations.get("sizing_note"):
            # A leak: the plans say how long they hold it, not that they hold it.
            header.append("lasts")
            for row, (_, plan) in zip(rows, plans, strict=True):
                row.append(lasts_text(plan))
            title = (f"{recommendations['sizing_note']}\nPlans holding {sizes}, "
                     "until the leak fills them")
        else:
            title = f"Plans for {sizes}"
        tables.append((title, header, rows))
        cheapest = cheapest_rows(recommendations)
        if cheapest:
            tables.append(("Cheapest plan across providers (monthly on-demand, as of the "
                           "catalogs' dates)", CHEAPEST_HEADER, cheapest))
    scaling = recommendations.get("scaling") or {}
    if scaling.get("instances"):
        tables.append((instances_title(scaling), instances_header(scaling),
                       instances_rows(scaling)))
    return tables


# Rows of the component table shown; the report holds them all.
COMPONENT_ROWS = 12


def _breakdown_tables(breakdown: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    processes = (breakdown.get("processes") or {}).get("processes") or []
    if processes:
        rows = [[str(p["pid"]), str(p.get("name") or "-"), str(p.get("role") or "-"),
                 _num(p.get("baseline_mb"), " MB"), _num(p.get("peak_mb"), " MB"),
                 _num(p.get("growth_under_load_mb"), " MB"),
                 _num(p.get("held_after_load_mb"), " MB")] for p in processes]
        tables.append(("Processes", ["pid", "name", "role", "baseline", "peak",
                                           "growth under load", "held after"], rows))
    gc = breakdown.get("gc") or {}
    if gc:
        rows = []
        for phase, figures in gc.items():
            collections = figures.get("collections") or [0, 0, 0]
            rows.append([phase, " / ".join(count(c) for c in collections),
                         count(sum(figures.get("collected") or [])),
                         count(figures.get("uncollectable", 0)),
                         _num(figures.get("pause_total_s"), " s", 3),
                         _num((figures.get("pause_longest_s") or 0) * 1000.0, " ms", 1),
                         _num(figures.get("gc_time_percent"), " %", 2)])
        tables.append(("Garbage collection", ["phase", "collections gen 0/1/2", "collected",
                                              "uncollectable", "time in GC", "longest pause",
                                              "share of time"], rows))
    components = breakdown.get("components") or {}
    if components.get("available"):
        rows = [[c["name"], _num(c.get("baseline_end_mb"), " MB"), _num(c.get("peak_mb"), " MB"),
                 _num(c.get("cooldown_end_mb"), " MB"), _num(c.get("peak_share_percent"), " %")]
                for c in components.get("components", [])[:COMPONENT_ROWS]]
        more = len(components.get("components", [])) - COMPONENT_ROWS
        if more > 0:
            rows.append([f"({more} more in the report)", "", "", "", ""])
        tables.append(("Memory by component", ["component", "end of baseline", "peak",
                                               "end of cooldown", "share at peak"], rows))
    return tables


def verdict_lines(report: dict[str, Any], files: list[str]) -> list[str]:
    lines = []
    assessment = report.get("assessment") or {}
    if assessment.get("level"):
        lines.append(f"Level: {assessment['level'].upper()}")
        lines += [f"  - {reason}" for reason in assessment.get("reasons", [])]
    leak = (report.get("memory") or {}).get("leak") or {}
    if leak.get("reason"):
        lines.append(f"{leak_heading(leak)}: {leak['reason']}")
    rehearsal = report.get("rehearsal") or {}
    if rehearsal.get("summary"):
        lines.append(f"Rehearsal: {rehearsal['summary']}")
    if rehearsal.get("minimum_summary"):
        lines.append(f"Minimum: {rehearsal['minimum_summary']}")
    run_length = report.get("run_length") or {}
    if run_length.get("reason"):
        lines.append(f"Load length (auto): {run_length['reason']}")
    attribution = leak.get("attribution") or {}
    keeping = [row["name"] for row in leak.get("endpoints") or [] if row.get("keeps")]
    if leak.get("endpoints"):
        lines.append("Kept by: " + (", ".join(keeping) if keeping else
                                   "no endpoint alone kept memory clearly above the others"))
    elif attribution.get("skipped"):
        lines.append(f"Attribution: skipped: {attribution['skipped']}")
    scaling = (report.get("recommendations") or {}).get("scaling") or {}
    if scaling.get("strategy"):
        lines.append(f"Scaling: {scaling['strategy']}: {scaling.get('reason', '')}")
    if scaling.get("cost_note"):
        lines.append(f"Scaling by cost: {scaling['cost_note']}")
    breakdown = report.get("breakdown") or {}
    for note in (breakdown.get("processes") or {}).get("notes", []):
        lines.append(f"Processes: {note}")
    components = breakdown.get("components") or {}
    config = report.get("config") or {}
    asked = config.get("tracemalloc") or config.get("components")
    if asked and components and not components.get("available") and components.get("reason"):
        lines.append(f"Components: {components['reason']}")
    if components.get("note"):
        lines.append(f"Components: {components['note']}")
    suggestions = (report.get("recommendations") or {}).get("suggestions") or []
    if suggestions:
        lines.append("Suggestions:")
        lines += [f"  - {text}" for text in suggestions]
    for alert in report.get("alerts", []):
        lines.append(f"Alert at {alert.get('t', 0):.1f} s: {alert.get('message')}")
    for problem in report.get("problems", []):
        lines.append(f"Note: {problem}")
    if not report.get("complete", True):
        lines.append(f"The run did not complete ({report.get('end_reason')}); "
                     "figures cover what was measured.")
    lines.append("Files written:")
    lines += [f"  {path}" for path in files]
    return lines


SPARK = " ▁▂▃▄▅▆▇█"
# A plain (not terminal) run prints a status line this often.
PLAIN_STATUS_EVERY_S = 5.0


def sparkline(values: list[float]) -> str:
    """Values as block characters from their lowest to their highest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(SPARK[1 + round((v - low) / span * (len(SPARK) - 2)) if span > 0 else 1]
                   for v in values)


def _bar(done: float, width: int = 24) -> str:
    filled = round(max(0.0, min(done, 1.0)) * width)
    return "█" * filled + "░" * (width - filled)


def look_text(look: dict[str, Any]) -> str:
    """The leak test's last look of a --load-test auto run, as one line."""
    limit, worth = look.get("detection_limit_mb_per_min"), look.get("worth_caring_mb_per_min")
    parts = [f"look {look.get('look', '?')} of up to {look.get('looks_planned', '?')} after "
             f"{look['load_s']:.0f} s of load: {look.get('verdict')}"]
    if limit is not None and worth is not None:
        parts.append(f"detection limit {amount(limit, 'MB/min')} (a leak worth caring "
                     f"about: {amount(worth)})")
    if look.get("more_s") and look.get("verdict") not in ("leak", "no leak"):
        parts.append(f"about {look['more_s'] / 60:.1f} min more expected")
    return "; ".join(parts)


def status_lines(status: dict[str, Any]) -> list[str]:
    """The live status as text lines (phase, memory, load, alerts)."""
    planned = status.get("planned_s")
    if planned:
        progress = (f"{_bar(status['elapsed_s'] / planned)} {status['elapsed_s']:5.0f} s of "
                    f"{planned:g} s ({status['remaining_s']:.0f} s left)")
    else:
        progress = f"{status['elapsed_s']:5.0f} s"
    lines = [f"{status['phase']:<9} {progress}   {status['detail']}"]
    if status.get("memory_mb") is not None:
        share = (f"   {status['percent']:.1f} % of the {status['percent_of']}"
                 if status.get("percent") is not None else "")
        lines.append(f"memory    {status['memory_mb']:,.1f} MB now, {status['peak_mb']:,.1f} MB "
                     f"peak  {sparkline(status['history_mb'])}{share}")
    if status.get("rps") is not None or status.get("requests"):
        p95 = "-" if status.get("p95_ms") is None else f"{status['p95_ms']:,.1f} ms"
        rps = "-" if status.get("rps") is None else f"{status['rps']:,.0f}"
        lines.append(f"requests  {rps} req/s, p95 {p95}, {status['requests']:,} sent, "
                     f"{status['failures']:,} failed")
    if status.get("auto"):
        lines.append(f"leak test {look_text(status['auto'])}")
    for alert in status.get("alerts", [])[-3:]:
        lines.append(f"alert     {alert}")
    return lines


class QuietRunnerView:
    def phase(self, name: str, detail: str) -> None:
        pass

    def progress(self, status: dict[str, Any]) -> None:
        pass

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


class PlainRunnerView(PlainLines):
    """Lines for a log: each phase, a status line every few seconds, each alert once."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        super().__init__(stream, every_s=PLAIN_STATUS_EVERY_S)
        self._start = time.monotonic()
        self._alerts = 0
        self._look: dict[str, Any] | None = None

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self._start:6.1f}s]"

    def phase(self, name: str, detail: str) -> None:
        self._print(f"{self._stamp()} {name}: {detail}")

    def progress(self, status: dict[str, Any]) -> None:
        for alert in status.get("alerts", [])[self._alerts:]:
            self._print(f"{self._stamp()} alert: {alert}")
        self._alerts = len(status.get("alerts", []))
        if status.get("auto") and status["auto"] is not self._look:
            self._look = status["auto"]
            self._print(f"{self._stamp()} leak test: {look_text(self._look)}")
        if not self.due(time.monotonic() - self._start):
            return
        parts = [f"{status['phase']} {status['elapsed_s']:.0f} s"
                 + (f" of {status['planned_s']:g} s" if status.get("planned_s") else "")]
        if status.get("memory_mb") is not None:
            parts.append(f"memory {status['memory_mb']:,.1f} MB (peak {status['peak_mb']:,.1f})")
            if status.get("percent") is not None:
                parts.append(f"{status['percent']:.1f} % of the {status['percent_of']}")
        if status.get("rps") is not None:
            p95 = "-" if status.get("p95_ms") is None else f"{status['p95_ms']:,.1f} ms"
            parts.append(f"{status['rps']:,.0f} req/s, p95 {p95}, {status['failures']:,} failed")
        self._print(f"{self._stamp()}   " + "; ".join(parts))

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        for title, header, rows in summary_tables(report):
            self._print()
            self._print(title)
            widths = [max(len(str(cell)) for cell in column)
                      for column in zip(header, *rows, strict=True)]
            for row in [header, *rows]:
                self._print("  " + "  ".join(str(c).ljust(w)
                                             for c, w in zip(row, widths, strict=True)))
        self._print()
        for line in verdict_lines(report, files):
            self._print(line)


class RichRunnerView(LivePanel):
    """On a terminal: each phase as a line, the live status redrawn in place below."""

    def __init__(self) -> None:
        super().__init__()
        self._start = time.monotonic()
        self._live_started = False

    def phase(self, name: str, detail: str) -> None:
        from rich.markup import escape

        elapsed = time.monotonic() - self._start
        # The detail holds the user's words (a URL, a round's "[round 2 of 5]"): text,
        # never markup.
        self.console.print(f"[dim]{elapsed:6.1f}s[/] [bold]{escape(name)}[/]: "
                           f"{escape(detail)}", highlight=False)

    def progress(self, status: dict[str, Any]) -> None:
        from rich.text import Text

        if not self._live_started:
            self.live.start()
            self._live_started = True
        self.live.update(Text("\n".join(status_lines(status))))

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        from rich.markup import escape
        from rich.table import Table

        self.close()
        for heading, header, rows in summary_tables(report):
            # A title's leading lines introduce the table (the plans of a leak): printed
            # as a paragraph above it, wrapped to the terminal, not to the table.
            intro, _, title = heading.rpartition("\n")
            if intro:
                self.console.print(intro, highlight=False, markup=False)
            table = Table(title=escape(title), title_justify="left")
            for index, name in enumerate(header):
                table.add_column(escape(name), justify="left" if index == 0 else "right")
            for row in rows:
                table.add_row(*(escape(str(cell)) for cell in row))
            self.console.print(table)
        level = (report.get("assessment") or {}).get("level")
        style = {"safe": "green", "warning": "yellow", "critical": "bold red"}.get(level or "", "")
        for line in verdict_lines(report, files):
            if line.startswith("Level:") and style:
                self.console.print(f"[{style}]{escape(line)}[/]", highlight=False)
            else:
                self.console.print(line, highlight=False, markup=False)
