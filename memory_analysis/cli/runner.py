"""Command line of memory_analysis_runner.py: options in, exit code out."""

from __future__ import annotations

import sys

import click
from click.core import ParameterSource

from memory_analysis.cli.common import (
    entry_point,
    exit_code_for_report,
    invoked_as,
    run_command,
    with_agent_options,
    with_request_options,
)
from memory_analysis.errors import BadInput, ThresholdBroken
from memory_analysis.levels import at_or_above
from memory_analysis.reports.runner_console import PlainRunnerView, QuietRunnerView, RichRunnerView
from memory_analysis.runner.config import QUICK, RunnerConfig, parse_load_test
from memory_analysis.runner.pictures import compare_runs, rebuild
from memory_analysis.runner.session import run_analysis
from memory_analysis.signals import StopSignal

PROG = "memory_analysis_runner.py"


def _steps(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"--users-steps must be user counts separated by commas, e.g. 5,10,20 "
                       f"(got {text!r})") from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               epilog="Also: 'report DIR' draws a run's pictures again from its JSON; "
                      "'compare DIR_A DIR_B' sets two runs side by side (each takes --help).")
@click.option("--baseline", type=float, default=RunnerConfig.baseline, show_default=True,
              help="Seconds of monitoring without load.")
@click.option("--load-test", "load_test", default=f"{RunnerConfig.load_test:g}",
              show_default=True, metavar="SECONDS|auto[:MAX]",
              help="Seconds of load; or auto: go on until the leak test can say 'leak' or "
                   "'no leak', up to MAX (default 15m; e.g. auto:30m).")
@click.option("--cooldown", type=float, default=RunnerConfig.cooldown, show_default=True,
              help="Seconds of monitoring after the load.")
@click.option("--quick", is_flag=True,
              help=f"Short phases: --baseline {QUICK['baseline']:g} --load-test "
                   f"{QUICK['load_test']:g} --cooldown {QUICK['cooldown']:g} (explicit phase "
                   "options still win).")
@click.option("--users", type=int, default=RunnerConfig.users, show_default=True,
              help="Concurrent users.")
@click.option("--requests", type=int, default=RunnerConfig.requests, show_default=True,
              help="Requests in one user's session; users repeat sessions until the load "
                   "phase ends.")
@click.option("--interval", type=float, default=RunnerConfig.interval, show_default=True,
              help="Seconds between memory samples.")
@click.option("--service-cmd", default=None,
              help='Start this service (as a shell would run it), e.g. "uvicorn app:app '
                   '--port 8000"; stopped at the end.')
@click.option("--service-cwd", default=None, metavar="DIR",
              help="Directory to run --service-cmd in. Default: the current directory.")
@click.option("--pid", type=int, default=None, help="Attach to this running service (needs --url).")
@click.option("--url", default=None,
              help="The service's base URL. Alone: a remote service, load and latency only.")
@click.option("--output-dir", default=RunnerConfig.output_dir, show_default=True,
              help="Where the reports and logs go.")
@click.option("--health-path", default=RunnerConfig.health_path, show_default=True,
              help="Path polled until the service answers.")
@click.option("--startup-timeout", type=float, default=RunnerConfig.startup_timeout,
              show_default=True,
              help="Seconds to wait for the service to become healthy.")
@click.option("--users-steps", default=None,
              help="Hold the load phase at each user count in turn, e.g. 5,10,20, and fit "
                   "memory against users.")
@click.option("--catalog", default=None, help="Your own plan catalog (JSON) to size against.")
@click.option("--cycles", type=int, default=RunnerConfig.cycles, show_default=True,
              help="Repeat load and cooldown this many times: growth in every cycle is a "
                   "leak, in the first only a plateau.")
@click.option("--target-memory", default=None, metavar="SIZE",
              help="Judge against the memory the service will get, e.g. 512M or 2G.")
@click.option("--plan", default=None, metavar="PROVIDER:PLAN",
              help="Judge against a catalog plan's memory, e.g. render:standard.")
@click.option("--memory-limit", "memory_limit", default=None, metavar="SIZE",
              help="Run the service it starts inside a memory cgroup of SIZE (e.g. 512M, "
                   "1G) for the whole run: an OOM kill there is the answer, not a crash.")
@click.option("--rehearse", is_flag=True,
              help="Run the service inside --plan's or --target-memory's memory, as "
                   "--memory-limit does.")
@click.option("--allow-swap", "allow_swap", is_flag=True,
              help="Let the limited service swap (off by default: swapping flatters it).")
@click.option("--find-minimum", "find_minimum", is_flag=True,
              help="Measure the smallest memory that serves the load: an unlimited round, "
                   "then --rounds rounds under limits found by bisection.")
@click.option("--rounds", type=int, default=RunnerConfig.rounds, show_default=True,
              help="Rounds under a limit for --find-minimum.")
@click.option("--demo-leak-kb", type=int, default=RunnerConfig.demo_leak_kb, show_default=True,
              help="Demo service only: keep this many KB per request, to see a leak found.")
@click.option("--demo-hold-mb", type=int, default=RunnerConfig.demo_hold_mb, show_default=True,
              help="Demo service only: keep a bounded cache of this many MB, to see held "
                   "memory that is not a leak.")
@click.option("--scenario", default=None, help="Passed to load_tester.py: endpoint mix file.")
@click.option("--openapi", default=None, metavar="URL|FILE|/PATH",
              help="Build the endpoint mix from the service's OpenAPI document: a file, a URL, "
                   "or a path on the service such as /openapi.json.")
@with_request_options
@click.option("--think-time", default=None, help="Passed to load_tester.py: MIN-MAX seconds.")
@click.option("--rate", type=float, default=None,
              help="Passed to load_tester.py: open model, requests/s.")
@click.option("--timeout", type=float, default=None,
              help="Passed to load_tester.py: per-request seconds.")
@click.option("--workers", default=None, help="Passed to load_tester.py: processes or 'auto'.")
@with_agent_options
@click.option("--agent/--no-agent", "agent", default=RunnerConfig.agent, show_default=True,
              help="Load the agent into a Python service started here, for GC and object "
                   "figures (and --tracemalloc).")
@click.option("--attribute", is_flag=True,
              help="When memory grew under load, send each endpoint alone for a short stretch "
                   "after it, to find which one keeps the memory (bytes per request each).")
@click.option("--attribute-max", "attribute_max", type=float,
              default=RunnerConfig.attribute_max, show_default=True, metavar="SECONDS",
              help="Most seconds --attribute may add, all stretches together.")
@click.option("--fail-on", type=click.Choice(["warning", "critical"]), default=None,
              help="Exit 3 when the level is this or worse (for CI).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def command(ctx: click.Context, quick: bool, users_steps: str | None, quiet: bool,
            fail_on: str | None, **options) -> int:
    """Run the whole memory analysis: baseline, load and cooldown, then a verdict with
    memory requirements and cloud plans."""
    if quick:
        for name, value in QUICK.items():
            if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
                options[name] = value
    options["load_test"], options["load_auto"] = parse_load_test(options["load_test"])
    config = RunnerConfig(users_steps=_steps(users_steps), **options)
    view: QuietRunnerView | RichRunnerView | PlainRunnerView
    if quiet:
        view = QuietRunnerView()
    elif sys.stdout.isatty():
        view = RichRunnerView()
    else:
        view = PlainRunnerView()
    with StopSignal() as stop:
        try:
            report = run_analysis(config, view, stop)
        finally:
            view.close()
    code = exit_code_for_report(report, stop.signum)
    level = (report.get("assessment") or {}).get("level")
    if code == 0 and fail_on is not None and at_or_above(level, fail_on):
        raise ThresholdBroken(f"the level is {str(level).upper()}, at or above --fail-on "
                              f"{fail_on}")
    return code


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("directory", metavar="DIR")
def report_command(directory: str) -> int:
    """Draw a run's pictures again (memory_timeline.png, load_timeline.png,
    memory_analysis_report.html) from the JSON files in its output directory DIR."""
    for path in rebuild(directory):
        click.echo(f"  {path}")
    return 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("first", metavar="DIR_A")
@click.argument("second", metavar="DIR_B")
@click.option("--output-dir", default=".", show_default=True,
              help="Where comparison.json, comparison.html and comparison_timeline.png go.")
@click.option("--fail-on-regression", "fail_on_regression", type=float, default=None,
              metavar="PCT",
              help="Exit 3 when DIR_B's peak, held memory or leak rate is worse than "
                   "DIR_A's by more than PCT percent and more than the runs' own noise "
                   "(for CI: DIR_A is the main branch's run).")
def compare_command(first: str, second: str, output_dir: str,
                    fail_on_regression: float | None) -> int:
    """Compare two runs (before and after an optimisation, say): memory, recovery, leak,
    latency and level side by side with the change, and both timelines overlaid."""
    result, files = compare_runs(first, second, output_dir, fail_on_regression)
    bigger = result.get("bigger_peak")
    click.echo(f"Bigger peak: {bigger}" if bigger else "Both peaks are the same")
    for row in result["figures"]:
        if row["figure"] in ("peak", "recovery", "p95 latency") and row["delta"] is not None:
            percent = (f", {row['delta_percent']:+.1f} %"
                       if row["delta_percent"] is not None else "")
            click.echo(f"  {row['figure']}: {row['a']:,.2f} -> {row['b']:,.2f} {row['unit']} "
                       f"({row['delta']:+,.2f}{percent})")
    click.echo("Files written:")
    for path in files:
        click.echo(f"  {path}")
    gate = result.get("gate")
    if gate is None:
        return 0
    click.echo(f"Memory gate (--fail-on-regression {gate['fail_on_regression_percent']:g}):")
    for note in gate["notes"]:
        click.echo(f"  note: {note}")
    for row in gate["figures"]:
        click.echo(f"  {'WORSE ' if row['regressed'] else ''}{row['text']}")
    if gate["regressed"]:
        raise ThresholdBroken(gate["verdict"])
    click.echo(gate["verdict"].capitalize())
    return 0


# Subcommands beside the analysis itself, which keeps its options at the top level.
SUBCOMMANDS = {"report": report_command, "compare": compare_command}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        name = sys.argv[1]
        sys.exit(run_command(SUBCOMMANDS[name], f"{invoked_as(PROG)} {name}", sys.argv[2:]))
    entry_point(command, PROG)()

if __name__ == "__main__":
    main()
