"""``load_tester.py merge``: combine result files exactly into one report.

Shards of one test (``--shard I/N`` on several hosts) or worker reports merge by adding
counters and HdrHistograms, so the merged percentiles are those of the combined run.
Runs are taken to have run at the same time: the merged duration is the longest one,
and timelines are added second by second from each run's start. The runner's user steps
and cycles ran one after another instead (``merge_read(..., sequential=True)``).
"""

from __future__ import annotations

from typing import Any

from memory_analysis.errors import BadInput
from memory_analysis.loadgen.report import build_report, stats_from_report
from memory_analysis.loadgen.stats import RunStats
from memory_analysis.reports.jsonio import read_json


def merge_reports(paths: list[str]) -> dict[str, Any]:
    """The merged report of the result files at ``paths`` (BadInput for a bad file)."""
    if not paths:
        raise BadInput("merge needs at least one result file")
    return merge_read([(path, read_json(path, expect_tool="load_tester")) for path in paths])


def merge_read(reports: list[tuple[str, dict[str, Any]]],
               sequential: bool = False) -> dict[str, Any]:
    """The merged report of reports already read, each with the file it came from.

    ``sequential``: the runs came one after another (the runner's user steps and
    cycles), so their durations add and their timelines follow each other; otherwise
    they ran at the same time (shards, workers).
    """
    if not reports:
        raise BadInput("merge needs at least one result file")
    paths = [path for path, _ in reports]
    merged: RunStats | None = None
    configs: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    complete = True
    reasons: set[str] = set()
    for path, report in reports:
        stats = stats_from_report(report, path)
        config = report.get("config") or {}
        configs.append(config)
        sources.append({"file": path, "shard": config.get("shard"),
                        "complete": bool(report.get("complete")),
                        "requests": stats.requests})
        complete = complete and bool(report.get("complete"))
        reasons.add(str(report.get("end_reason", "finished")))
        if merged is None:
            merged = stats
        elif sequential:
            merged.append(stats)
        else:
            merged.add(stats)
    assert merged is not None
    config = dict(configs[0])
    shards = [str(c.get("shard")) for c in configs]
    if all("/" in s for s in shards):
        counts = {s.split("/")[1] for s in shards}
        indices = sorted(int(s.split("/")[0]) for s in shards)
        if len(counts) == 1 and indices == list(range(1, int(counts.pop()) + 1)):
            config["shard"] = None  # every shard of the test is here: the whole test
    config["workers"] = sum(int(c.get("workers") or 1) for c in configs)
    config["merged_from"] = sources
    warnings = []
    if config.get("shard") is not None and len(paths) > 1:
        warnings.append("the merged files are not shards 1..N of one test: "
                        "the totals are their sum")
    if not complete:
        warnings.append("at least one merged file is incomplete (its run was stopped early)")
    end_reason = "interrupted" if "interrupted" in reasons else (
        "duration" if "duration" in reasons else "finished")
    return build_report(merged, config, complete=complete, end_reason=end_reason,
                        extra_warnings=warnings)
