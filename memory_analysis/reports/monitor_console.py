"""How the monitor talks to a person: a rich live panel on a terminal, plain lines
otherwise, nothing with --quiet. Views format what the session computed."""

from __future__ import annotations

from typing import Any

from memory_analysis.numbers import count, fixed
from memory_analysis.reports.plain import LivePanel, PlainLines


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} MB"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{fixed(value, 1)}%"


def _target_line(header: dict[str, Any]) -> str:
    target = header.get("target")
    config = header["config"]
    if target is None:
        what = "the whole system"
    else:
        tree = "and its descendants" if config["include_children"] else "alone"
        what = f"PID {target['pid']} ({target.get('name') or '?'}) {tree}"
    until = f"for {config['duration']:g} s" if config["duration"] else "until Ctrl-C"
    return f"Monitoring {what} every {config['interval']:g} s {until}"


def _summary_lines(report: dict[str, Any], files: list[str]) -> list[str]:
    summary = report["summary"]
    lines = [
        f"Stopped: {report['end_reason'].replace('_', ' ')}"
        + ("" if report["complete"] else " (report marked incomplete)"),
        f"Samples: {count(summary['sample_count'])} over {summary['duration_s']:.1f} s",
        "Host memory in use (all its processes): mean "
        f"{_percent(summary['system_percent']['mean'])}, "
        f"peak {_percent(summary['system_percent']['max'])}",
    ]
    if summary.get("peak_rss_mb") is not None:
        lines.append(f"Peak RSS: {_mb(summary['peak_rss_mb'])}   "
                     f"Peak tree ({summary['tree_metric']}): {_mb(summary['peak_tree_mb'])}")
    if summary.get("cgroup"):
        group = summary["cgroup"]
        lifetime = group.get("lifetime_peak_mb")
        lines.append(f"Cgroup peak (this run): {_mb(group['peak_mb'])}"
                     + (f", lifetime peak: {_mb(lifetime)}" if lifetime is not None else "")
                     + f", OOM kills: {group['oom_kills']}")
    lines.append(f"Alerts: {len(report['alerts'])}")
    for reason in report["unreadable"].values():
        lines.append(f"Not readable: {reason}")
    for note in report["notes"]:
        lines.append(f"Note: {note}")
    lines.append("Files written: " + ", ".join(files))
    return lines


def _status_line(status: dict[str, Any]) -> str:
    parts = [f"t={status['t']:7.1f}s", f"host {status['system_percent']:5.1f}%"]
    if status["rss_mb"] is not None:
        parts += [f"rss {_mb(status['rss_mb'])}", f"tree {_mb(status['tree_mb'])}",
                  f"peak {_mb(status['peak_rss_mb'])}"]
    group = status["cgroup"]
    if group:
        limit = f"/{_mb(group['limit_mb'])}" if group["limit_mb"] else ""
        parts.append(f"cgroup {_mb(group['working_set_mb'])}{limit}")
    return "  ".join(parts)


class QuietView:
    """--quiet: nothing but errors (which the CLI prints)."""

    def started(self, header: dict[str, Any]) -> None:
        pass

    def sampled(self, sample: dict[str, Any], status: dict[str, Any]) -> None:
        pass

    def alerted(self, alert: dict[str, Any]) -> None:
        pass

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


class PlainView(PlainLines):
    """Plain lines for logs and pipes, at most one status line per ``every_s`` seconds."""

    def started(self, header: dict[str, Any]) -> None:
        self._print(_target_line(header))

    def sampled(self, sample: dict[str, Any], status: dict[str, Any]) -> None:
        if self.due(status["t"]):
            self._print(_status_line(status))

    def alerted(self, alert: dict[str, Any]) -> None:
        self._print(f"ALERT t={alert['t']:.1f}s {alert['message']}")

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        for line in _summary_lines(report, files):
            self._print(line)


class LiveView(LivePanel):
    """A rich panel redrawn in place on a terminal; alerts scroll above it."""

    def __init__(self) -> None:
        super().__init__()
        self._header: dict[str, Any] | None = None

    def _panel(self, status: dict[str, Any]) -> Any:
        from rich.panel import Panel
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        remaining = status["remaining_s"]
        table.add_row("Elapsed", f"{status['t']:.1f} s" + (
            f"  ({remaining:.0f} s left)" if remaining is not None else ""))
        table.add_row("Host memory in use", f"{status['system_percent']:.1f} %")
        if status["rss_mb"] is not None:
            table.add_row("RSS now / peak",
                          f"{_mb(status['rss_mb'])} / {_mb(status['peak_rss_mb'])}")
            table.add_row("Tree now / peak",
                          f"{_mb(status['tree_mb'])} / {_mb(status['peak_tree_mb'])}"
                          f"  ({status['children']} descendants)")
        group = status["cgroup"]
        if group:
            limit = f"of {_mb(group['limit_mb'])}" if group["limit_mb"] else "(no limit)"
            table.add_row("Cgroup working set", f"{_mb(group['working_set_mb'])} {limit}")
        table.add_row("Samples / alerts", f"{status['samples']} / {status['alerts']}")
        title = _target_line(self._header) if self._header else "memory monitor"
        return Panel(table, title=title, title_align="left")

    def started(self, header: dict[str, Any]) -> None:
        self._header = header
        self.live.start()

    def sampled(self, sample: dict[str, Any], status: dict[str, Any]) -> None:
        self.live.update(self._panel(status))

    def alerted(self, alert: dict[str, Any]) -> None:
        style = "bold red" if alert["level"] == "critical" else "yellow"
        self.console.print(f"[{style}]t={alert['t']:.1f}s {alert['message']}[/]")

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        self.live.stop()
        for line in _summary_lines(report, files):
            self.console.print(line, highlight=False)
