"""Command line of memory_monitor.py: options in, exit code out."""

from __future__ import annotations

import os
import signal
import sys

import click

from memory_analysis.cli.common import (
    entry_point,
    exit_code_for_report,
    invoked_as,
    run_command,
    with_agent_options,
)
from memory_analysis.errors import BadInput, ThresholdBroken
from memory_analysis.levels import at_or_above
from memory_analysis.monitor.session import (
    FINISH_SIGNAL,
    MonitorConfig,
    MonitorSession,
    MonitorView,
)
from memory_analysis.reports.jsonio import check_writable, read_json
from memory_analysis.signals import StopSignal

PROG = "memory_monitor.py"


def _view(quiet: bool, interval: float) -> MonitorView:
    """The presenter for this terminal. Imported when chosen: a quiet run (how the runner
    starts the monitor) loads no presentation code, a plain one no rich."""
    from memory_analysis.reports import monitor_console

    if quiet:
        return monitor_console.QuietView()
    if sys.stdout.isatty():
        return monitor_console.LiveView()
    return monitor_console.PlainView(every_s=max(interval, 1.0))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pid", type=int, default=None,
              help="Process to watch. Without it, the whole system is monitored.")
@click.option("--children/--no-children", "include_children", default=True, show_default=True,
              help="Include all descendants of --pid (worker processes).")
@click.option("--interval", type=float, default=1.0, show_default=True,
              help="Seconds between samples (works down to 0.05).")
@click.option("--duration", type=float, default=None,
              help="Seconds to monitor. Default: until Ctrl-C or the target exits.")
@click.option("--output", "-o", default="memory_analysis.json", show_default=True,
              help="Report file; samples also stream to <name>.samples.jsonl beside it.")
@click.option("--warning", type=float, default=MonitorConfig.warning, show_default=True,
              help="Warning alert threshold, percent of the host's memory, the cgroup limit "
                   "and --target-memory.")
@click.option("--critical", type=float, default=MonitorConfig.critical, show_default=True,
              help="Critical alert threshold, percent.")
@click.option("--target-memory", default=None, metavar="SIZE",
              help="The memory the service will get (512M, 2G; a bare number is MB): "
                   "alerts also fire at --warning/--critical percent of it (needs --pid).")
@click.option("--target-name", default=None, metavar="NAME",
              help="What to call --target-memory in alerts, e.g. 'plan render:starter'.")
@click.option("--pss-interval", type=float, default=1.0, show_default=True,
              help="Seconds between PSS/USS reads (smaps_rollup), which cost more than RSS.")
@click.option("--reset-peak", is_flag=True,
              help="Reset the target's kernel peak RSS (VmHWM) at start, so the peak covers "
                   "only this run.")
@with_agent_options
@click.option("--fail-on-alert", type=click.Choice(["warning", "critical"]), default=None,
              help="Exit 3 when an alert of this level or worse fired (for CI).")
@click.option("--plot", default=None, metavar="FILE.png",
              help="Also draw the run's memory as a PNG chart.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def command(pid: int | None, include_children: bool, interval: float, duration: float | None,
            output: str, warning: float, critical: float, target_memory: str | None,
            target_name: str | None, pss_interval: float,
            reset_peak: bool, agent_dir: str | None, tracemalloc: bool,
            components: str | None, fail_on_alert: str | None, plot: str | None,
            quiet: bool) -> int:
    """Sample a process tree's memory (or the system's) on a fixed schedule and write a
    JSON report with peaks, percentiles, cgroup figures and alerts."""
    config = MonitorConfig(pid=pid, include_children=include_children, interval=interval,
                           duration=duration, output=output, warning=warning,
                           critical=critical, target_memory=target_memory,
                           target_name=target_name, pss_interval=pss_interval,
                           reset_peak=reset_peak,
                           agent_dir=agent_dir, tracemalloc=tracemalloc, components=components)
    if plot is not None:
        if not plot.lower().endswith(".png"):
            raise BadInput(f"--plot draws a PNG file: give a name ending in .png (got {plot!r})")
        check_writable(plot)
    view = _view(quiet, interval)
    with StopSignal((signal.SIGINT, signal.SIGTERM, FINISH_SIGNAL)) as stop:
        session = MonitorSession(config, view, stop)
        try:
            report = session.run()
        finally:
            view.close()
    if plot is not None:  # from the file written: it holds the samples
        from memory_analysis.reports import charts

        charts.monitor_timeline(read_json(output, expect_tool="memory_monitor"), plot)
        if not quiet:
            click.echo(f"Chart written: {plot}")
    code = exit_code_for_report(report, stop.signum)
    if code == 0 and fail_on_alert is not None:
        fired = [a for a in report.get("alerts", []) if at_or_above(a["level"], fail_on_alert)]
        if fired:
            raise ThresholdBroken(f"{len(fired)} alert(s) at or above --fail-on-alert "
                                  f"{fail_on_alert}: {fired[0]['message']}")
    return code


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("report", metavar="REPORT.json")
@click.option("--output", "-o", default=None, metavar="FILE.png",
              help="Where the chart goes. Default: the report's name with .png.")
def plot_command(report: str, output: str | None) -> int:
    """Draw a monitor report (memory_analysis.json) as a PNG chart."""
    target = output or os.path.splitext(report)[0] + ".png"
    if not target.lower().endswith(".png"):
        raise BadInput(f"--output draws a PNG file: give a name ending in .png (got {target!r})")
    data = read_json(report, expect_tool="memory_monitor")
    check_writable(target)
    from memory_analysis.reports import charts

    charts.monitor_timeline(data, target)
    click.echo(target)
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "plot":
        sys.exit(run_command(plot_command, f"{invoked_as(PROG)} plot", sys.argv[2:]))
    entry_point(command, PROG)()

if __name__ == "__main__":
    main()
