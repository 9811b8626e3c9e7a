"""--attribute end to end: a real service that keeps a known amount on one of three
endpoints, the runner sending each alone after the load, and the endpoint named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import PROGRAMS, run_script
from shared_runs import Run, free_port, runner, shared_run

KEEP_KB = 32
# What one kept request costs the service: the bytes, the bytes object's 33-byte header
# rounded up by malloc to 16 bytes (48 with its own 8-byte chunk header), and the list's
# 8-byte pointer (the list grows by over-allocation: a few more bytes on average).
KEPT_BYTES = KEEP_KB * 1024 + 56


@shared_run(seconds=40, paced=True)
def attribute_run(work: Path) -> Run:
    """Paced at 100 requests/s: the service and the load tester mostly wait. Baseline
    long enough for the noise floor, a short load (a leak of 6.5 KB a request of the
    mix is far above the floor in seconds), then three stretches the runner sizes."""
    port = free_port()
    return runner(work, "--baseline", "3", "--load-test", "8", "--cooldown", "2",
                  "--interval", "0.2", "--rate", "100", "--users", "4", "--attribute",
                  "--service-cmd", f"{sys.executable} {PROGRAMS / 'attribute_app.py'} {port}",
                  "--url", f"http://127.0.0.1:{port}",
                  "--scenario", str(PROGRAMS / "attribute_scenario.json"),
                  env={"KEEP_KB": str(KEEP_KB)})


def test_attribute_names_the_endpoint_that_keeps_memory(attribute_run):
    report = attribute_run.ok().report()
    rows = report["memory"]["leak"]["endpoints"]
    assert [row["name"] for row in rows][0] == "track", rows
    track, *others = rows
    assert track["keeps"] is True and track["category"] == "tracking"
    assert abs(track["bytes_per_request"] - KEPT_BYTES) <= 0.25 * KEPT_BYTES, track
    low, high = track["ci_bytes"]
    assert low > 0.5 * KEPT_BYTES and high < 1.5 * KEPT_BYTES, track
    for row in others:
        low, high = row["ci_bytes"]
        assert row["keeps"] is False, row
        # Near zero: the interval holds zero, or is small against what track keeps.
        assert low <= 0 <= high or max(abs(low), abs(high)) < 0.05 * KEPT_BYTES, row
        assert row["requests"] > 0


def test_the_terminal_names_the_endpoint_and_the_time_it_took(attribute_run):
    out = attribute_run.stdout
    assert "attribute: 3 endpoints × " in out  # shown before the stretches start
    assert "Kept by: track" in out
    assert "The memory is kept by track" in out
    assert "Which endpoint keeps the memory" in out


def test_the_stretches_are_their_own_phase(attribute_run):
    """The load's verdict and the peak are the load's; the stretches come between the
    load and the cooldown, each with its own files."""
    report = attribute_run.report()
    phases = report["phases"]
    assert list(phases) == ["baseline", "load", "attribute", "cooldown"]
    assert phases["load"]["end_t"] < phases["attribute"]["start_t"]
    assert phases["attribute"]["end_t"] < phases["cooldown"]["start_t"]
    assert report["memory"]["leak"]["verdict"] in ("leak", "too short to tell")
    assert report["memory"]["leak"]["attribution"]["by"] == "endpoint"
    stretches = report["timeline"]["attribution"]
    assert [s["name"] for s in stretches] == ["home", "search", "track"]
    for stretch in stretches:
        assert (attribute_run.out / stretch["file"]).exists()
        scenario = (attribute_run.out / stretch["file"]).with_suffix(".scenario.json")
        assert scenario.exists()
    html = (attribute_run.out / "memory_analysis_report.html").read_text()
    assert "Kept by:</b> track" in html


@pytest.mark.parametrize("args, message", [
    (["--attribute", "--url", "http://127.0.0.1:1"],
     "--attribute needs the service's memory"),
    (["--attribute", "--attribute-max", "0"], "--attribute-max must be greater than 0"),
])
def test_attribute_refuses_what_it_cannot_do(args, message, tmp_path):
    result = run_script("memory_analysis_runner.py", *args, "--output-dir",
                        str(tmp_path / "out"), timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_the_stretches_are_tagged_between_the_load_and_the_cooldown():
    from memory_analysis.runner.merge import phase_of
    from memory_analysis.runner.orchestrator import Timeline

    timeline = Timeline(load_start=10.0, load_end=40.0, attribute_start=40.0,
                        attribute_end=60.0,
                        steps=[{"users": 5, "cycle": 2, "start": 10.0, "end": 40.0}])
    assert phase_of(39.0, timeline) == ("load", 5, 2)
    assert phase_of(41.0, timeline) == ("attribute", 0, 2)  # a stretch's start-up too
    assert phase_of(59.9, timeline) == ("attribute", 0, 2)
    assert phase_of(60.0, timeline) == ("cooldown", 0, 2)
    assert timeline.quiet_from == 60.0
