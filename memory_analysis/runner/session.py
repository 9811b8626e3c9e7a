"""One analysis from start to verdict: check the inputs, run the phases, merge the
files, judge, write ``comprehensive_memory_analysis.json``, and show the summary."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from memory_analysis import __version__
from memory_analysis.analysis import runlength
from memory_analysis.analysis.analyze import analyze, condition_notes
from memory_analysis.analysis.catalogs import load_catalogs
from memory_analysis.analysis.level import RunEnd
from memory_analysis.analysis.limits import find_plan, parse_size_mb
from memory_analysis.analysis.rehearsal import rehearsal_block
from memory_analysis.errors import BadInput, RunFailed
from memory_analysis.loadgen.choose import choose_scenario
from memory_analysis.loadgen.runner import timeline_path
from memory_analysis.loadgen.scenario import parse_endpoints
from memory_analysis.monitor.cgroup import MemoryCgroup
from memory_analysis.runner.config import RunnerConfig
from memory_analysis.runner.confine import memory_limit
from memory_analysis.runner.merge import (
    attribution_stretches,
    header,
    load_segments,
    load_summary,
    read_load,
    read_monitor,
    service_block,
    write_comprehensive,
)
from memory_analysis.runner.orchestrator import (
    SERVICE_LOG,
    TOOLS_LOG,
    AnalysisRun,
    RunnerView,
    RunOutcome,
)
from memory_analysis.runner.pictures import draw_pictures
from memory_analysis.signals import StopSignal


def environment() -> dict[str, Any]:
    """What the run ran on, so reports can be compared later."""
    import platform
    from importlib.metadata import PackageNotFoundError, version
    versions: dict[str, str | None] = {}
    for package in ("psutil", "aiohttp", "matplotlib"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"host_memory_mb": round(psutil.virtual_memory().total / 1048576.0, 1),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "suite": __version__, **versions}


def _own_cgroup_path() -> str | None:
    group = MemoryCgroup.of_process(os.getpid())
    return group.directory if group else None


def _during(phase: str | None) -> str:
    return "while starting" if phase == "starting" else f"during the {phase or 'run'}"


def _run_end(outcome: RunOutcome, service: dict[str, Any]) -> RunEnd | None:
    """How the run ended, for the level (``level.RunEnd``); None when it completed.
    ``service``: the report's ``service`` block (its ``exit`` says how it died)."""
    died = outcome.end_reason in ("service_died", "oom_killed")
    failed = outcome.end_reason == "load_failed"
    kills = (outcome.group or {}).get("oom_kills") or 0
    if not died and not failed and not kills:
        return None
    during = ("during the load" if outcome.timeline.load_start and not outcome.timeline.load_end
              else "during the run")
    if outcome.oom is not None:
        during = _during(outcome.oom["phase"])
    return RunEnd(service_died=died, service_exit=service.get("exit") if died else None,
                  died_during=during, oom_kills=kills, oom_during=during,
                  load_failure=outcome.problems[-1] if failed and outcome.problems else
                  ("the load tester failed" if failed else None))


def _options(config: RunnerConfig, cgroup_path: str | None, tree_metric: str | None,
             catalogs: list[dict[str, Any]], plan: dict[str, Any] | None,
             target_mb: float | None) -> dict[str, Any]:
    """The analysis's options for this run (``analyze``), from what the monitor said of
    the service's cgroup and how it summed the process tree."""
    options = {
        # A cgroup of the service's own (not the one the runner sits in) is what a
        # platform would limit: its working set is the service's memory.
        # Not one the runner made to rehearse in: the files the service maps that another
        # process on this host read first are charged to that one's group, so the group's
        # working set leaves them out; the service's memory is then its tree's, as in any
        # run, and the rehearsal reports what the group counted.
        "service_cgroup": (cgroup_path is not None and cgroup_path != _own_cgroup_path()
                           and config.limit_source is None and not config.find_minimum),
        "tree_metric": tree_metric or "pss",
        "users": config.users,
        "catalogs": catalogs,
        "plan": plan,
        "target_memory_mb": target_mb,
        "limit_source": config.limit_source,
    }
    if config.load_auto:
        options["looks"] = len(runlength.look_times(config.load_test))
    return options


def run_analysis(config: RunnerConfig, view: RunnerView, stop: StopSignal) -> dict[str, Any]:
    """Run the analysis described by ``config``; return the report written."""
    if config.find_minimum:
        from memory_analysis.runner.minimum import find_minimum
        return find_minimum(config, view, stop)
    return publish(measure(config, view, stop), view)


@dataclass
class Measured:
    """One run measured and judged: its report (not yet written), how it went, and what
    its pictures are drawn from."""

    report: dict[str, Any]
    outcome: RunOutcome
    samples: list[dict[str, Any]]
    load: dict[str, Any] | None
    runs: list[dict[str, Any]]
    catalogs: list[dict[str, Any]]


def rehearsal_limit_mb(config: RunnerConfig, plan: dict[str, Any] | None,
                       target_mb: float | None) -> float | None:
    """The size of the service's memory group: --memory-limit, or with --rehearse the
    plan's or the target's memory; None: unlimited (or no group at all)."""
    if config.memory_limit is not None:
        return parse_size_mb(config.memory_limit, "--memory-limit")
    if config.rehearse:
        return target_mb if target_mb else (plan or {}).get("memory_mb")
    return None


def measure(config: RunnerConfig, view: RunnerView, stop: StopSignal) -> Measured:
    """Run the phases described by ``config`` and judge them (the report, unwritten).
    With a memory limit (or --find-minimum's unlimited round), the service runs in a
    memory group of its own, removed before this returns."""
    # Everything that can be rejected is checked before a service is started; a refused
    # run leaves no output directory it made behind.
    made = [d for d in (Path(config.output_dir), *Path(config.output_dir).parents)
            if not d.exists()]
    try:
        catalogs = load_catalogs([config.catalog] if config.catalog else None)
        plan = find_plan(catalogs, config.plan) if config.plan is not None else None
        notes: list[str] = []
        if not config.openapi_on_service:
            _scenario, notes = choose_scenario(config.scenario, config.openapi,
                                               parse_endpoints(config.endpoints),
                                               config.headers)
        target_mb = parse_size_mb(config.target_memory) if config.target_memory else None

        def judge(samples: list[dict[str, Any]], segments: list[dict[str, Any]],
                  header: dict[str, Any]) -> dict[str, Any]:
            # PSS where the monitor could read it, as its report will say at the end.
            pss = any((s.get("process") or {}).get("tree_pss_mb") is not None
                      for s in samples[-4:])
            options = _options(config, (header.get("cgroup") or {}).get("path"),
                               "pss" if pss else "rss", catalogs, plan, target_mb)
            return analyze(samples, None, {**options, "segments": segments})["memory"]["leak"]

        with contextlib.ExitStack() as stack:
            group = None
            if config.limit_source is not None or config.find_minimum:
                group = stack.enter_context(memory_limit(
                    rehearsal_limit_mb(config, plan, target_mb), config.allow_swap))
            run = AnalysisRun(config, view, stop, target_mb or (plan or {}).get("memory_mb"),
                              f"plan {plan['plan']}" if plan and not target_mb else None,
                              judge, group)
            outcome = run.run()
            if group is not None and group.swept:
                outcome.problems.append(
                    "removed memory groups left by an earlier run that was killed before it "
                    "could: " + ", ".join(group.swept))
        if group is not None and group.left_behind:
            outcome.problems.append(f"the memory group {group.left_behind} could not be "
                                    "removed: the next run removes it")
    except (BadInput, RunFailed):
        # Refused, or the service never started: directories this run made and left
        # empty go (deepest first; one holding anything, the service's log, stays).
        for directory in made:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    outcome.problems[:0] = notes
    view.phase("merging", "reading the tools' reports")

    load, runs = read_load(outcome)
    monitor = read_monitor(outcome)
    samples = monitor.get("samples", []) if monitor else []
    options = _options(config, ((monitor or {}).get("cgroup") or {}).get("path"),
                       ((monitor or {}).get("summary") or {}).get("tree_metric"),
                       catalogs, plan, target_mb)
    if monitor and monitor.get("start_time"):
        options["segments"] = load_segments(runs, monitor["start_time"])
    if config.attribute:
        asked = dict(outcome.attribution or {"skipped": "the run ended before the load did"})
        if outcome.timeline.attribution and monitor and monitor.get("start_time"):
            asked["stretches"] = attribution_stretches(outcome.timeline,
                                                       monitor["start_time"])
        options["attribution"] = asked
    service = service_block(outcome, monitor)
    options["runtime"] = service["runtime"]
    end = _run_end(outcome, service)
    if end is not None:
        options["end"] = end
    figures = load_summary(load)
    blocks = analyze(samples, figures, options)
    report = header(outcome)
    report["service"] = service
    report.update(blocks)
    report["load_test"] = figures
    if config.load_auto:
        report["run_length"] = runlength.run_length(
            config.load_test, outcome.looks, figures.get("duration_s"),
            figures.get("requests"), report["memory"].get("leak") or {}, outcome.end_reason)
    if outcome.service.pid is None:
        report["memory"]["observed"] = False
        report["memory"]["reason"] = ("memory was not observed: the service runs elsewhere "
                                      "(--url alone), so only load and latency were measured")
    else:
        report["memory"]["observed"] = bool(samples)
    if config.demo_mix_on_own_service:
        not_found = (figures.get("errors") or {}).get("http_404", 0)
        share = not_found / figures["requests"] if figures.get("requests") else 0.0
        if share > 0:
            note = ("the load was the bundled demo's requests, as neither --scenario nor "
                    f"--openapi was given; your service answered {share:.0%} of them with "
                    "404, so the figures describe it turning requests away: describe your "
                    "endpoints (--openapi /openapi.json, or --scenario FILE)")
            # After the load's own failure, which the level names first.
            report["assessment"]["reasons"].insert(1 if end and end.load_failure else 0,
                                                   note)
        else:
            note = ("the load was the bundled demo's requests, as neither --scenario nor "
                    "--openapi was given (your service answered them, none with 404); if "
                    "your users send other requests, describe them (--openapi "
                    "/openapi.json, or --scenario FILE)")
        outcome.problems.insert(0, note)
    clock = (monitor or {}).get("start_time")
    report["timeline"] = {"steps": [{**step, "file": Path(step["file"]).name,
                                     "start_t": round(step["start"] - clock, 3)
                                     if clock else None}
                                    for step in outcome.timeline.steps]}
    if outcome.timeline.attribution:
        report["timeline"]["attribution"] = [
            {**stretch, "file": Path(stretch["file"]).name,
             "start_t": round(stretch["start"] - clock, 3) if clock else None}
            for stretch in outcome.timeline.attribution]
    if config.tracemalloc:
        outcome.problems.append("tracemalloc was on: the service ran slower and held more "
                                "memory than it will in production, so its latency, "
                                "throughput and memory figures describe the traced service; "
                                "size it from a run without --tracemalloc")
    report["problems"] = (outcome.problems + list((monitor or {}).get("notes", []))
                          + condition_notes(report))
    report["alerts"] = list((monitor or {}).get("alerts", []))
    report["monitor"] = {"complete": (monitor or {}).get("complete"),
                         "end_reason": (monitor or {}).get("end_reason"),
                         "summary": (monitor or {}).get("summary")}
    report["environment"] = environment()
    if outcome.group is not None:
        report["rehearsal"] = _rehearsal(outcome, config.limit_source or "find_minimum",
                                         monitor, runs, figures, samples)
    return Measured(report, outcome, samples, load, runs, catalogs)


def _rehearsal(outcome: RunOutcome, source: str, monitor: dict[str, Any] | None,
               runs: list[dict[str, Any]], figures: dict[str, Any],
               samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's ``rehearsal`` block, on the samples' clock."""
    assert outcome.group is not None
    clock = (monitor or {}).get("start_time")
    oom = None
    if outcome.oom is not None:
        oom = {"t": outcome.oom["time"] - clock if clock else None,
               "phase": outcome.oom["phase"]}
    first = runs[0] if runs else None
    rows = (first or {}).get("report", {}).get("timeline") or []
    load_start = first["start"] - clock if first and clock else None
    group_summary = ((monitor or {}).get("summary") or {}).get("cgroup")
    died = None
    if outcome.end_reason in ("service_died", "oom_killed"):
        died = (outcome.service.exit_info() or {}).get("description") or "died"
    return rehearsal_block(outcome.group, source, oom, rows, load_start, group_summary,
                           (figures.get("latency_ms") or {}).get("p95"), samples, died)


def publish(measured: Measured, view: RunnerView) -> dict[str, Any]:
    """Draw the run's pictures, write its report, and show the summary."""
    report, outcome, config = measured.report, measured.outcome, measured.outcome.config
    samples, load, runs = measured.samples, measured.load, measured.runs
    pictures: list[Path] | str = []
    if config.pictures:
        pictures = draw_pictures(outcome.output_dir, samples, report, load,
                                 {Path(run["file"]).name: run["report"] for run in runs})
    if isinstance(pictures, str):
        report["problems"].append(pictures)
    path = write_comprehensive(outcome, report)
    load_files = [outcome.load_path, *(f for f in outcome.load_files if f != outcome.load_path)]
    written = [outcome.monitor_path, outcome.monitor_stream_path,
               *(p for f in load_files for p in (f, Path(timeline_path(str(f))))),
               outcome.output_dir / SERVICE_LOG, outcome.output_dir / TOOLS_LOG]
    for stretch in outcome.timeline.attribution:
        load_file = Path(stretch["file"])
        written += [load_file, Path(timeline_path(str(load_file))),
                    load_file.with_suffix(".scenario.json")]
    agent_dir = config.agent_report_dir
    if agent_dir is not None and agent_dir.is_dir() and any(agent_dir.glob("*.json")):
        written.append(agent_dir)
    files = [str(path)] + [str(f) for f in written if f.exists()]
    files += [str(p) for p in pictures] if isinstance(pictures, list) else []
    view.finished(report, files)
    return report
