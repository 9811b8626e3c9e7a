"""How the load tester talks to a person: a rich live panel on a terminal, plain lines
otherwise, nothing with --quiet. Views format what the engine measured; they compute
nothing."""

from __future__ import annotations

from typing import Any

from memory_analysis.numbers import amount
from memory_analysis.reports.plain import LivePanel, PlainLines


def _ms(value: float | None) -> str:
    """A latency in a live line, to a fixed place (the columns stay put)."""
    return "-" if value is None else f"{value:,.1f} ms"


def _latency(value: float | None) -> str:
    """A latency in the summary, to three significant figures (numbers.py)."""
    return amount(value, "ms")


def _plan_line(info: dict[str, Any]) -> str:
    c = info["config"]
    if c["model"] == "open":
        what = f"{c['rate']:g} requests/s (open model, up to {c['max_in_flight']} in flight)"
    else:
        per = "no limit" if c["requests_per_user"] == 0 else f"{c['requests_per_user']} requests"
        what = f"{c['users']} users x {per}" + (" (repeating)" if c["repeat"] else "")
    until = f" for up to {c['duration_s']:g} s" if c["duration_s"] else ""
    workers = f", {c['workers']} worker processes" if c["workers"] > 1 else ""
    shard = f", shard {c['shard']}" if c["shard"] != "1/1" else ""
    return f"Load test of {c['url']}: {what}{until}{workers}{shard}; scenario {c['scenario']}"


def _status_line(s: dict[str, Any]) -> str:
    left = f" ({s['remaining_s']:.0f} s left)" if s.get("remaining_s") is not None else ""
    return (f"t={s['elapsed_s']:6.1f}s{left}  requests {s['requests']:,}  "
            f"rps {s['interval_requests']:,}  errors {s['failures']:,}  "
            f"p50 {_ms(s['p50_ms'])}  p95 {_ms(s['p95_ms'])}  in flight {s['in_flight']}"
            + (f"  dropped {s['dropped']:,}" if s.get("dropped") else ""))


def summary_lines(report: dict[str, Any], path: str | None) -> list[str]:
    """The end-of-run summary as plain lines (also used for the merge command)."""
    t = report["totals"]
    lat = report["latency_ms"]
    lines = [
        f"Finished: {report['end_reason']}"
        + ("" if report["complete"] else " (report marked incomplete)"),
        f"Requests: {t['requests']:,} in {t['duration_s']:.1f} s = {amount(t['rps'])}/s; "
        f"successes {t['successes']:,}, failures {t['failures']:,} "
        f"(error rate {t['error_rate']:.2%})"
        + (f", dropped {t['dropped']:,}" if t["dropped"] else "")
        + (f", cancelled {t['cancelled']:,}" if t.get("cancelled") else ""),
        "Latency: " + "  ".join(f"{k} {_latency(lat[k])}" for k in
                                ("min", "mean", "p50", "p90", "p95", "p99", "p999", "max")),
    ]
    if report["errors"]:
        lines.append("Errors: " + ", ".join(f"{k} {v:,}" for k, v in report["errors"].items()))
    for name, cat in report["categories"].items():
        lines.append(f"  {name:<8} {cat['requests']:>8,} requests  share {cat['share']:6.1%} "
                     f"(target {cat['target_share']:.1%})  failures {cat['failures']:,}  "
                     f"p95 {_latency(cat['latency_ms']['p95'])}")
    width = max((len(e["name"]) for e in report["endpoints"]), default=4)
    for e in report["endpoints"]:
        lines.append(f"    {e['method']:<6} {e['name']:<{width}} {e['requests']:>8,}  "
                     f"failures {e['failures']:<6,} p50 {_latency(e['latency_ms']['p50']):>10}  "
                     f"p95 {_latency(e['latency_ms']['p95']):>10}")
    om = report.get("open_model")
    if om:
        lines.append(f"Open model: {om['scheduled']:,} sends scheduled at {om['rate']:g}/s, "
                     f"{om['late_sends']:,} late by more than {om['late_threshold_ms']:g} ms "
                     f"(send lag p99 {_latency(om['send_lag_ms']['p99'])})")
    g = report["generator"]
    lines.append(f"Generator: {g['processes']} process(es), CPU up to "
                 f"{g['cpu_percent_max']:.0f} % of a core, event-loop lag p99 "
                 f"{_latency(g['loop_lag_ms']['p99'])}")
    for w in report["warnings"]:
        lines.append(f"Warning: {w}")
    for r in report["thresholds"]:
        verdict = "ok" if r["passed"] else "BROKEN"
        lines.append(f"Threshold {r['name']} {r['scope']}: {r['value']} (limit {r['limit']:g}) "
                     f"{verdict}")
    if path:
        lines.append(f"Report written: {path}")
    return lines


class QuietView:
    """--quiet: nothing but errors (which the CLI prints)."""

    def started(self, info: dict[str, Any]) -> None:
        pass

    def progress(self, status: dict[str, Any]) -> None:
        pass

    def finished(self, report: dict[str, Any], path: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainView(PlainLines):
    """Plain lines for logs and pipes, at most one status line per ``every_s`` seconds."""

    def started(self, info: dict[str, Any]) -> None:
        self._print(_plan_line(info))

    def progress(self, status: dict[str, Any]) -> None:
        if self.due(status["elapsed_s"]):
            self._print(_status_line(status))

    def finished(self, report: dict[str, Any], path: str) -> None:
        for line in summary_lines(report, path):
            self._print(line)


class LiveView(LivePanel):
    """A rich panel redrawn in place on a terminal; the summary is printed at the end."""

    def __init__(self) -> None:
        super().__init__()
        self._title = "load tester"

    def _panel(self, s: dict[str, Any]) -> Any:
        from rich.panel import Panel
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        left = f"  ({s['remaining_s']:.0f} s left)" if s.get("remaining_s") is not None else ""
        table.add_row("Elapsed", f"{s['elapsed_s']:.1f} s{left}")
        table.add_row("Requests", f"{s['requests']:,}  ({s['interval_requests']:,}/s)")
        errors = f"{s['failures']:,}"
        if s.get("dropped"):
            errors += f"  dropped {s['dropped']:,}"
        table.add_row("Errors", errors)
        table.add_row("Latency (last s)", f"p50 {_ms(s['p50_ms'])}  p95 {_ms(s['p95_ms'])}")
        table.add_row("In flight", str(s["in_flight"]))
        table.add_row("Generator CPU", f"{s['cpu_percent']:.0f} %")
        return Panel(table, title=self._title, title_align="left")

    def started(self, info: dict[str, Any]) -> None:
        self._title = _plan_line(info)
        self.console.print(self._title, highlight=False)
        self.live.start()

    def progress(self, status: dict[str, Any]) -> None:
        self.live.update(self._panel(status))

    def finished(self, report: dict[str, Any], path: str) -> None:
        self.live.stop()
        for line in summary_lines(report, path):
            style = "bold red" if "BROKEN" in line or line.startswith("Warning") else None
            self.console.print(line, style=style, highlight=False)
