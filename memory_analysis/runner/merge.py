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
from memory_analysis.loadgen.merge import merge_reports
from memory_analysis.monitor.report import write_report
from memory_analysis.reports.jsonio import read_json, write_json_atomic
from memory_analysis.runner.orchestrator import LOAD_FILE, MONITOR_FILE, RunOutcome, Timeline

TOOL = "memory_analysis_runner"
SCHEMA_VERSION = 1


def phase_of(time_s: float, timeline: Timeline) -> str:
    """The phase a wall-clock time falls in: before the load, during it, or after."""
    if timeline.load_start is None or time_s < timeline.load_start:
        return "baseline"
    if timeline.load_end is None or time_s < timeline.load_end:
        return "load"
    return "cooldown"


def tag_phases(samples: list[dict[str, Any]], timeline: Timeline) -> None:
    for sample in samples:
        sample["phase"] = phase_of(sample["time"], timeline)
        step = next((index for index, s in enumerate(timeline.steps)
                     if s["start"] <= sample["time"] < s["end"]), None)
        sample["load_users"] = timeline.steps[step]["users"] if step is not None else 0


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


def read_load(outcome: RunOutcome) -> dict[str, Any] | None:
    """One load report for the whole load phase: the steps merged exactly."""
    files = [str(f) for f in outcome.load_files if f.exists()]
    if not files:
        return None
    if len(outcome.load_files) == 1 and outcome.load_files[0] == outcome.load_path:
        return read_json(outcome.load_path, expect_tool="load_tester")
    merged = merge_reports(files)
    merged["steps"] = [
        {"users": step["users"], "file": Path(step["file"]).name,
         "requests": read_json(step["file"])["totals"]["requests"]
         if Path(step["file"]).exists() else 0}
        for step in outcome.timeline.steps]
    write_json_atomic(outcome.load_path, merged)
    return merged


def load_summary(load: dict[str, Any] | None) -> dict[str, Any]:
    """The load tester's figures that the verdict uses."""
    if load is None:
        return {}
    totals = load.get("totals", {})
    return {"requests": totals.get("requests", 0), "successes": totals.get("successes", 0),
            "failures": totals.get("failures", 0), "error_rate": totals.get("error_rate", 0.0),
            "rps": totals.get("rps", 0.0), "duration_s": totals.get("duration_s", 0.0),
            "latency_ms": load.get("latency_ms", {}), "categories": load.get("categories", {}),
            "errors": load.get("errors", {}), "complete": load.get("complete", False),
            "warnings": load.get("warnings", []),
            # Per-second requests, to count requests inside the leak's trend window. A merge
            # of sequential user steps lines their seconds up as if simultaneous: no use.
            "timeline": None if "steps" in load else load.get("timeline")}


def service_block(outcome: RunOutcome, monitor: dict[str, Any] | None) -> dict[str, Any]:
    service = outcome.service.describe()
    service["startup_s"] = round(outcome.startup_s, 3) if outcome.startup_s else None
    exit_info = service.get("exit")
    if exit_info is not None:
        # Out of memory for certain only where the cgroup counted an OOM kill during the
        # run; a bare SIGKILL is reported as such (the reasons say what usually sends it).
        group = ((monitor or {}).get("summary") or {}).get("cgroup") or {}
        exit_info["oom_killed"] = bool(group.get("oom_kills_during_run"))
    return service


def write_comprehensive(outcome: RunOutcome, report: dict[str, Any]) -> Path:
    path = outcome.output_dir / "comprehensive_memory_analysis.json"
    write_json_atomic(path, report)
    return path


def header(outcome: RunOutcome) -> dict[str, Any]:
    complete = outcome.end_reason == "completed"
    return {"tool": TOOL, "schema_version": SCHEMA_VERSION, "version": __version__,
            "complete": complete, "end_reason": outcome.end_reason,
            "config": {**asdict(outcome.config), "mode": outcome.config.mode},
            "files": {"memory": MONITOR_FILE, "load_test": LOAD_FILE}}


