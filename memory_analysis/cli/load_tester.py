"""Command line of load_tester.py: options in, exit code out.

``load_tester.py [OPTIONS]`` runs a load test; ``load_tester.py merge A.json B.json -o
OUT.json`` merges result files (shards, workers) exactly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from memory_analysis.cli.common import (
    EXIT_OK,
    entry_point,
    exit_code_for_signal,
    with_request_options,
)
from memory_analysis.errors import BadInput, ThresholdBroken
from memory_analysis.loadgen.choose import choose_scenario
from memory_analysis.loadgen.config import (
    DEFAULT_URL,
    LoadConfig,
    parse_shard,
    parse_think_time,
    parse_workers,
)
from memory_analysis.loadgen.merge import merge_reports
from memory_analysis.loadgen.report import apply_thresholds, describe_broken
from memory_analysis.loadgen.runner import run_load_test
from memory_analysis.loadgen.scenario import default_profile_path, parse_endpoints
from memory_analysis.reports.html import write_load_page
from memory_analysis.reports.jsonio import check_writable, read_json, write_json_atomic
from memory_analysis.reports.load_console import LiveView, PlainView, QuietView, summary_lines

PROG = "load_tester.py"


def _p95_limits(values: tuple[str, ...]) -> list[tuple[str | None, float]]:
    limits: list[tuple[str | None, float]] = []
    for value in values:
        name, sep, number = value.rpartition("=")
        try:
            limit = float(number)
        except ValueError:
            raise BadInput(f"--max-p95-ms must be MS or ENDPOINT=MS, got {value!r}") from None
        limits.append((name if sep else None, limit))
    return limits


def _error_rate(value: float | None) -> float | None:
    if value is not None and not 0 <= value <= 1:
        raise BadInput(f"--max-error-rate must be between 0 and 1, got {value:g}")
    return value


def _view(quiet: bool) -> QuietView | PlainView | LiveView:
    if quiet:
        return QuietView()
    return LiveView() if sys.stdout.isatty() else PlainView()


threshold_options = [
    click.option("--max-error-rate", type=float, default=None,
                 help="Fail (exit 3) when failures/requests is above this, e.g. 0.01."),
    click.option("--max-p95-ms", multiple=True, metavar="MS|ENDPOINT=MS",
                 help="Fail (exit 3) when p95 latency is above MS: overall and for every "
                      "endpoint, or for one endpoint with NAME=MS. Repeatable."),
]


def with_thresholds(func):
    for option in reversed(threshold_options):
        func = option(func)
    return func


@click.group(invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", default=None,
              help="Base URL of the service. Default: the scenario's base_url, else "
                   f"{DEFAULT_URL}.")
@click.option("--users", "-u", type=int, default=20, show_default=True,
              help="Virtual users at once (closed model), split over workers and shards.")
@click.option("--requests", "-r", "requests_per_user", type=int, default=15, show_default=True,
              help="Requests each user sends in sequence; 0 = no limit (needs --duration).")
@click.option("--duration", "-d", type=float, default=None,
              help="End the test after this many seconds, whatever is left.")
@click.option("--repeat", is_flag=True,
              help="Users start their --requests session again until --duration ends.")
@click.option("--ramp-up", type=float, default=0.0, show_default=True,
              help="Start the users evenly over this many seconds.")
@click.option("--think-time", default=None, metavar="MIN-MAX",
              help="Seconds a user waits between its requests, uniform in MIN-MAX "
                   "(or a fixed SECONDS). Default: none.")
@click.option("--rate", type=float, default=None,
              help="Open model: send this many requests per second on a fixed schedule, "
                   "not waiting for answers. Sends users x requests in total, or until "
                   "--duration with --repeat or --requests 0.")
@click.option("--max-in-flight", type=int, default=None,
              help="Open model: most requests outstanding at once; a send beyond it is "
                   "counted as dropped. Default 1000.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds one request may take before it counts as a timeout.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the endpoint sequence and variable values (reproducible runs).")
@click.option("--scenario", "-s", default=None, metavar="FILE",
              help="Scenario file (JSON or YAML) replacing the default Stock Analyzer Pro "
                   "profile. See --print-profile.")
@click.option("--openapi", default=None, metavar="URL|FILE",
              help="Build the scenario from the service's OpenAPI document (FastAPI: "
                   "URL/openapi.json). See --print-profile.")
@with_request_options
@click.option("--workers", "-w", default="1", show_default=True, metavar="N|auto",
              help="Worker processes sharing the users or rate; auto = one per core.")
@click.option("--shard", default="1/1", show_default=True, metavar="I/N",
              help="Run only shard I of N of the test (one per host); merge the N "
                   "result files with the merge command.")
@click.option("--output", "-o", default="load_test_results.json", show_default=True,
              help="Report file (JSON, written atomically).")
@with_thresholds
@click.option("--html", "html_file", default=None, metavar="FILE",
              help="Also write the report as one HTML page (opens offline).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--print-profile", is_flag=True,
              help="Print the scenario as a file to copy and edit (the default one, or "
                   "the one --openapi builds) and exit.")
@click.pass_context
def command(ctx: click.Context, url: str | None, users: int, requests_per_user: int,
            duration: float | None, repeat: bool, ramp_up: float, think_time: str | None,
            rate: float | None, max_in_flight: int | None, timeout: float, seed: int,
            scenario: str | None, openapi: str | None, endpoints: str | None,
            headers: tuple[str, ...], workers: str, shard: str, output: str,
            max_error_rate: float | None, max_p95_ms: tuple[str, ...],
            html_file: str | None, quiet: bool, print_profile: bool) -> int:
    """Send concurrent HTTP load to a service and report throughput, errors and latency
    percentiles (HdrHistogram) per endpoint, per category and overall."""
    if ctx.invoked_subcommand is not None:
        return EXIT_OK
    wanted = parse_endpoints(endpoints)
    if print_profile and scenario is None and openapi is None and wanted is None \
            and not headers:
        click.echo(default_profile_path().read_text(encoding="utf-8"), nl=False)
        return EXIT_OK
    chosen, notes = choose_scenario(scenario, openapi, wanted, headers)
    for line in notes:
        click.echo(f"{ctx.info_name}: note: {line}", err=True)
    if print_profile:  # the scenario as chosen and narrowed, to copy and edit
        click.echo(json.dumps(chosen.to_dict(), indent=2))
        return EXIT_OK
    config = LoadConfig(
        url=url or chosen.base_url or DEFAULT_URL, users=users,
        requests_per_user=requests_per_user, duration_s=duration, ramp_up_s=ramp_up,
        think_time_s=parse_think_time(think_time), rate=rate, max_in_flight=max_in_flight,
        timeout_s=timeout, seed=seed, repeat=repeat, workers=parse_workers(workers),
        shard=parse_shard(shard), scenario=scenario, openapi=openapi, endpoints=wanted,
        headers=list(headers),
        output=output,
        max_error_rate=_error_rate(max_error_rate), max_p95_ms=_p95_limits(max_p95_ms),
    ).validate()
    names = {e.name for e in chosen.endpoints}
    for name, _limit in config.max_p95_ms:
        if name is not None and name not in names:
            raise BadInput(f"--max-p95-ms: no endpoint named {name!r} in the scenario")
    check_writable(output)
    if html_file is not None:
        check_writable(html_file)
    view = _view(quiet)
    try:
        outcome = run_load_test(config, chosen, view)
    finally:
        view.close()
    if html_file is not None and Path(output).is_file():
        write_load_page(read_json(output, expect_tool="load_tester"), html_file)
        if not quiet:
            click.echo(f"Page written: {html_file}")
    if outcome.signum is not None:
        return exit_code_for_signal(outcome.signum)
    if outcome.broken:
        raise ThresholdBroken(describe_broken(outcome.broken))
    return EXIT_OK


@command.command("merge")
@click.argument("files", nargs=-1, required=True, metavar="RESULT.json...")
@click.option("--output", "-o", default="load_test_results.json", show_default=True,
              help="Merged report file.")
@with_thresholds
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def merge_command(files: tuple[str, ...], output: str, max_error_rate: float | None,
                  max_p95_ms: tuple[str, ...], quiet: bool) -> int:
    """Merge load_tester result files (shards of one test, or parallel runs) exactly:
    counters and latency histograms are added, never percentiles averaged."""
    limits = _p95_limits(max_p95_ms)
    rate = _error_rate(max_error_rate)
    check_writable(output)
    report = merge_reports(list(files))
    broken = apply_thresholds(report, rate, limits)
    write_json_atomic(output, report)
    if not quiet:
        for line in summary_lines(report, output):
            click.echo(line)
    if broken:
        raise ThresholdBroken(describe_broken(broken))
    return EXIT_OK


main = entry_point(command, PROG)

if __name__ == "__main__":
    main()
