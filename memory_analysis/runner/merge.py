"""Merge the monitor's and the load tester's files into the comprehensive report.

Reads what the tools wrote, tags every memory sample with its phase (and writes the
tagged samples back to the monitor's file), combines the load steps exactly, and hands
plain data to the analysis. Files that are missing (a run stopped before a tool started)
are reported as such, never invented.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from memory_analysis import __version__
from memory_analysis.analysis.analyze import endpoint_figures, mean_in_flight
from memory_analysis.loadgen.merge import merge_read
from memory_analysis.loadgen.scenario import header_names
from memory_analysis.monitor.report import write_report
from memory_analysis.reports.jsonio import read_json, write_json_atomic
from memory_analysis.runner.config import LOAD_FILE, MONITOR_FILE, REPORT_FILE
from memory_analysis.runner.orchestrator import RunOutcome, Timeline

TOOL = "memory_analysis_runner"
SCHEMA_VERSION = 1


def phase_of(time_s: float, timeline: Timeline) -> tuple[str, int, int]:
    """(phase, users sending load, cycle) at a wall-clock time: before the first load,
    during a load step, between two steps of one cycle (load, with 0 users: the load
    tester restarting), during the --attribute stretches after the last load
    ("attribute": each endpoint alone, kept out of the load's and the cooldown's
    figures), or after a cycle's last step (its cooldown)."""
    if timeline.load_start is None or time_s < timeline.load_start:
        return "baseline", 0, 1
    if (timeline.attribute_start is not None and timeline.attribute_end is not None
            and timeline.attribute_start <= time_s < timeline.attribute_end):
        return "attribute", 0, max((s.get("cycle", 1) for s in timeline.steps), default=1)
    previous = None
    for step in timeline.steps:
        if step["start"] <= time_s < step["end"]:
            return "load", step["users"], step.get("cycle", 1)
        if step["start"] > time_s:
            if previous is not None and previous.get("cycle", 1) == step.get("cycle", 1):
                return "load", 0, step.get("cycle", 1)
            break
        previous = step
    return "cooldown", 0, (previous or {}).get("cycle", 1)


def tag_phases(samples: list[dict[str, Any]], timeline: Timeline) -> None:
    for sample in samples:
        sample["phase"], sample["load_users"], sample["cycle"] = phase_of(sample["time"],
                                                                          timeline)


def samples_from_stream(path: Path) -> list[dict[str, Any]]:
    """Samples of a monitor that died before writing its report (its JSON-Lines file)."""
    samples = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    break  # a line cut short by the crash: everything before it stands
                if "kind" not in record:
                    samples.append(record)
    except FileNotFoundError:
        pass
    return samples


def read_monitor(outcome: RunOutcome) -> dict[str, Any] | None:
    """The monitor's report with phase-tagged samples (written back to its file)."""
    path = outcome.monitor_path
    if path.exists():
        report = read_json(path, expect_tool="memory_monitor")
    else:
        samples = samples_from_stream(outcome.monitor_stream_path)
        if not samples:
            return None
        report = {"tool": "memory_monitor", "schema_version": 1, "complete": False,
                  "end_reason": "monitor_died", "samples": samples, "summary": {}}
    samples = report.get("samples", [])
    tag_phases(samples, outcome.timeline)
    write_report(str(path), {k: v for k, v in report.items() if k != "samples"},
                 [json.dumps(s, separators=(",", ":")) for s in samples])
    return report


def read_load(outcome: RunOutcome) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One load report for the whole load phase (steps and cycles merged exactly), and
    each run of the load tester: its step of the timeline with the report it wrote."""
    runs = []
    for step in outcome.timeline.steps:
        path = Path(step["file"])
        if path.exists():
            runs.append({**step, "report": read_json(path, expect_tool="load_tester")})
    if not runs:
        return None, []
    if len(outcome.timeline.steps) == 1 and Path(runs[0]["file"]) == outcome.load_path:
        return runs[0]["report"], runs
    merged = merge_read([(run["file"], run["report"]) for run in runs], sequential=True)
    merged["steps"] = [{"users": run["users"], "cycle": run.get("cycle", 1),
                        "file": Path(run["file"]).name,
                        "requests": run["report"]["totals"]["requests"]} for run in runs]
    write_json_atomic(outcome.load_path, merged)
    return merged, runs


def load_segments(runs: list[dict[str, Any]], clock_start: float) -> list[dict[str, Any]]:
    """The analysis's ``segments``: each load tester run on the samples' clock (seconds
    since the monitor started), with its requests, per-second rows and the mean number
    of requests in flight (Little's law)."""
    out = []
    for run in runs:
        totals = run["report"].get("totals") or {}
        latency = run["report"].get("latency_ms") or {}
        out.append({"start_t": run["start"] - clock_start, "end_t": run["end"] - clock_start,
                    "users": run["users"], "cycle": run.get("cycle", 1),
                    "requests": totals.get("requests", 0),
                    "timeline": run["report"].get("timeline"),
                    "mean_in_flight": mean_in_flight(totals.get("requests", 0),
                                                     latency.get("mean"),
                                                     totals.get("duration_s"))})
    return out


def attribution_stretches(timeline: Timeline, clock_start: float) -> list[dict[str, Any]]:
    """The analysis's ``attribution`` stretches (``attribution.Stretch``): each endpoint
    sent alone, on the samples' clock, with its requests and per-second rows."""
    out = []
    for stretch in timeline.attribution:
        path = Path(stretch["file"])
        if not path.exists() or stretch.get("end") is None:
            continue
        report = read_json(path, expect_tool="load_tester")
        out.append({"name": stretch["name"], "category": stretch["category"],
                    "start_t": stretch["start"] - clock_start,
                    "end_t": stretch["end"] - clock_start,
                    "requests": (report.get("totals") or {}).get("requests", 0),
                    "timeline": report.get("timeline")})
    return out


def load_summary(load: dict[str, Any] | None) -> dict[str, Any]:
    """The load tester's figures that the verdict uses."""
    if load is None:
        return {}
    totals = load.get("totals", {})
    return {"requests": totals.get("requests", 0), "successes": totals.get("successes", 0),
            "failures": totals.get("failures", 0), "error_rate": totals.get("error_rate", 0.0),
            "rps": totals.get("rps", 0.0), "duration_s": totals.get("duration_s", 0.0),
            "latency_ms": load.get("latency_ms", {}), "categories": load.get("categories", {}),
            "endpoints": endpoint_figures(load.get("endpoints")),
            "errors": load.get("errors", {}), "complete": load.get("complete", False),
            "warnings": load.get("warnings", [])}


def service_block(outcome: RunOutcome, monitor: dict[str, Any] | None) -> dict[str, Any]:
    service = outcome.service.describe()
    service["startup_s"] = round(outcome.startup_s, 3) if outcome.startup_s else None
    # What it runs on, as the monitor found it (``monitor.runtime``); None unobserved.
    target = (monitor or {}).get("target") or {}
    service["runtime"] = target.get("runtime")
    service["runtime_process"] = target.get("runtime_process")
    exit_info = service.get("exit")
    if exit_info is not None:
        # Out of memory for certain only where the cgroup counted an OOM kill during the
        # run; a bare SIGKILL is reported as such (the reasons say what usually sends it).
        group = ((monitor or {}).get("summary") or {}).get("cgroup") or {}
        exit_info["oom_killed"] = bool(group.get("oom_kills_during_run")
                                       or (outcome.group or {}).get("oom_kills"))
    return service


def write_comprehensive(outcome: RunOutcome, report: dict[str, Any]) -> Path:
    path = outcome.output_dir / REPORT_FILE
    write_json_atomic(path, report)
    return path


def header(outcome: RunOutcome) -> dict[str, Any]:
    # A service killed for memory inside the limit it was run in is the rehearsal's
    # answer, not a run cut short.
    complete = outcome.end_reason in ("completed", "oom_killed")
    return {"tool": TOOL, "schema_version": SCHEMA_VERSION, "version": __version__,
            "complete": complete, "end_reason": outcome.end_reason,
            "config": {**asdict(outcome.config), "mode": outcome.config.mode,
                       "headers": header_names(outcome.config.headers)},
            "files": {"memory": MONITOR_FILE, "load_test": LOAD_FILE}}


