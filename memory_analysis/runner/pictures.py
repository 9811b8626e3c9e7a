"""The pictures of a run: its PNG charts and its HTML report, drawn from the JSON files
alone, at the end of a run and again by ``memory_analysis_runner.py report DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memory_analysis.errors import BadInput
from memory_analysis.monitor.report import stream_path_for
from memory_analysis.reports.jsonio import (
    check_writable,
    read_json,
    write_json_atomic,
    write_text_atomic,
)
from memory_analysis.runner.config import HTML_FILE, LOAD_FILE, MONITOR_FILE, REPORT_FILE

COMPARISON_JSON = "comparison.json"
COMPARISON_HTML = "comparison.html"


def draw_pictures(directory: Path, samples: list[dict[str, Any]], report: dict[str, Any],
                  load: dict[str, Any] | None,
                  reports: dict[str, dict[str, Any]]) -> list[Path] | str:
    """The run's PNG charts and its HTML report, from the comprehensive ``report``, the
    monitor's ``samples``, the merged ``load`` report and each load run's own report by
    file name; the files written, or why they could not be."""
    from memory_analysis.reports import charts, html
    rows = [{**step, "rows": reports[step["file"]].get("timeline") or []}
            for step in report["timeline"]["steps"] if step["file"] in reports]
    try:
        drawn = []
        svgs = {}
        if samples:
            charts.memory_timeline(samples, report, directory / charts.MEMORY_PNG)
            drawn.append(directory / charts.MEMORY_PNG)
            svgs["memory"] = charts.svg(charts.memory_timeline, samples, report)
        if rows:
            charts.load_timeline(rows, report, directory / charts.LOAD_PNG)
            drawn.append(directory / charts.LOAD_PNG)
            svgs["load"] = charts.svg(charts.load_timeline, rows, report)
        write_text_atomic(directory / HTML_FILE, html.render(report, load, svgs))
        drawn.append(directory / HTML_FILE)
        return drawn
    except Exception as exc:  # a picture must never cost the report
        return f"the charts could not be drawn: {type(exc).__name__}: {exc}"


def _read_run(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's comprehensive report and its monitor's report (empty when missing)."""
    report = read_json(folder / REPORT_FILE, expect_tool="memory_analysis_runner")
    monitor = read_json(folder / MONITOR_FILE) if (folder / MONITOR_FILE).is_file() else {}
    return report, monitor


def rebuild(directory: str | Path) -> list[Path]:
    """Draw the pictures of the run in ``directory`` again from its JSON files. A run
    whose runner was killed outright (``kill -9``) left only the tools' files: they are
    merged first into a comprehensive report marked incomplete."""
    folder = Path(directory)
    if not (folder / REPORT_FILE).is_file():
        if not (folder / MONITOR_FILE).is_file() and \
                not (folder / stream_path_for(MONITOR_FILE)).is_file():
            raise BadInput(f"no {REPORT_FILE} in {folder}, nor a monitor's report to "
                           "build one from: give the output directory of a run")
        write_json_atomic(folder / REPORT_FILE, merge_left_behind(folder))
    report, monitor = _read_run(folder)
    load = read_json(folder / LOAD_FILE) if (folder / LOAD_FILE).is_file() else None
    reports = {step["file"]: read_json(folder / step["file"])
               for step in (report.get("timeline") or {}).get("steps") or []
               if (folder / step["file"]).is_file()}
    drawn = draw_pictures(folder, monitor.get("samples") or [], report, load, reports)
    if isinstance(drawn, str):
        raise BadInput(drawn)
    return drawn


def compare_runs(first: str | Path, second: str | Path, output_dir: str | Path,
                 fail_on_regression: float | None = None
                 ) -> tuple[dict[str, Any], list[Path]]:
    """Compare two runs' directories: ``comparison.json``, ``comparison.html`` and the
    overlaid timelines in ``output_dir``; the comparison and the files written. With
    ``fail_on_regression`` (a percentage) the comparison also holds ``gate``: whether the
    second run's memory got worse than the first's (``analysis.compare.regression_gate``)."""
    from memory_analysis.analysis.compare import (
        check_regression_percent,
        compare,
        regression_gate,
    )
    from memory_analysis.reports import charts, html
    if fail_on_regression is not None:
        check_regression_percent(fail_on_regression)
    runs = []
    for directory in (Path(first), Path(second)):
        if not (directory / REPORT_FILE).is_file():
            raise BadInput(f"no {REPORT_FILE} in {directory}: give the output directories "
                           "of two runs")
        report, monitor = _read_run(directory)
        if not isinstance(report.get("memory"), dict):
            raise BadInput(f"{directory / REPORT_FILE}: not a comprehensive report (it has "
                           "no memory figures)")
        runs.append((str(directory), monitor.get("samples") or [], report))
    result = compare(runs[0][2], runs[1][2], (runs[0][0], runs[1][0]))
    if fail_on_regression is not None:
        result["gate"] = regression_gate(runs[0][2], runs[1][2], fail_on_regression,
                                         runs[0][1], runs[1][1])
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"cannot create {out}: {exc.strerror or exc}") from None
    check_writable(out / COMPARISON_JSON)
    write_json_atomic(out / COMPARISON_JSON, result)
    charts.overlay(runs, out / charts.COMPARISON_PNG)
    page = html.render_comparison(result, charts.svg(charts.overlay, runs))
    write_text_atomic(out / COMPARISON_HTML, page)
    return result, [out / COMPARISON_JSON, out / COMPARISON_HTML, out / charts.COMPARISON_PNG]


def merge_left_behind(folder: Path) -> dict[str, Any]:
    """A comprehensive report from what the tools wrote in ``folder`` when the runner
    itself did not get to it: phases from the load reports' own start and end times,
    the verdict from the samples, ``complete`` false."""
    from memory_analysis import __version__
    from memory_analysis.analysis.analyze import analyze, condition_notes
    from memory_analysis.runner.merge import TOOL, load_summary, samples_from_stream, tag_phases
    from memory_analysis.runner.orchestrator import Timeline

    if (folder / MONITOR_FILE).is_file():
        monitor = read_json(folder / MONITOR_FILE, expect_tool="memory_monitor")
    else:
        monitor = {"samples": samples_from_stream(folder / stream_path_for(MONITOR_FILE))}
    samples = monitor.get("samples") or []
    files = sorted(p for pattern in (LOAD_FILE, "load_step_*.json", "load_cycle_*.json")
                   for p in folder.glob(pattern))
    loads = [(p, read_json(p, expect_tool="load_tester")) for p in files]
    runs = [(p, r) for p, r in loads if r.get("started_at") and r.get("ended_at")]
    steps = [{"users": (r.get("config") or {}).get("users") or 0, "cycle": 1,
              "start": r["started_at"], "end": r["ended_at"], "file": p.name,
              "exit_code": None} for p, r in sorted(runs, key=lambda pr: pr[1]["started_at"])]
    timeline = Timeline(start=monitor.get("start_time"), steps=steps,
                        load_start=steps[0]["start"] if steps else None,
                        load_end=steps[-1]["end"] if steps else None)
    tag_phases(samples, timeline)
    load = loads[0][1] if len(loads) == 1 else None
    report = {"tool": TOOL, "schema_version": 1, "version": __version__, "complete": False,
              "end_reason": "runner_killed", "config": {},
              "files": {"memory": MONITOR_FILE, "load_test": LOAD_FILE}}
    blocks = analyze(samples, load_summary(load), {
        "tree_metric": (monitor.get("summary") or {}).get("tree_metric") or "pss"})
    report.update(blocks)
    report["load_test"] = load_summary(load)
    clock = monitor.get("start_time")
    report["timeline"] = {"steps": [{**step, "start_t": round(step["start"] - clock, 3)
                                     if clock else None} for step in steps]}
    report["problems"] = ["the runner stopped before merging (killed outright): this report "
                          "was built afterwards from the tools' own files",
                          *condition_notes(blocks)]
    report["alerts"] = list(monitor.get("alerts") or [])
    write_json_atomic(folder / MONITOR_FILE, {**monitor, "samples": samples})
    return report
