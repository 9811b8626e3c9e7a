"""The memory gate (``compare --fail-on-regression``) on hand-built reports: a change
must pass both the percentage and the runs' own noise; a leak rate against a base that
grew by nothing; bad input through the command line."""

from __future__ import annotations

import json

import pytest
from conftest import run_script

from memory_analysis.analysis.compare import figure_noise_mb, regression_gate
from memory_analysis.errors import BadInput


def report(peak=100.0, held=10.0, floor=2.0, rate=0.0, ci=(-0.2, 0.3), verdict="no leak",
           complete=True):
    return {"tool": "memory_analysis_runner", "schema_version": 1, "complete": complete,
            "end_reason": "completed" if complete else "interrupted",
            "memory": {"metric": "service_tree", "baseline_mb": 50.0, "peak_mb": peak,
                       "held_mb": held, "noise_floor_mb": floor,
                       "leak": {"verdict": verdict, "slope_mb_per_min": rate,
                                "slope_ci_mb_per_min": list(ci)}}}


def row(gate, figure):
    return next(r for r in gate["figures"] if r["figure"] == figure)


def test_a_change_must_pass_both_the_percentage_and_the_noise():
    # Floors of 2 MB: one deviation 2/3 MB each, 3.09 of both combined is 2.9 MB.
    worse = regression_gate(report(), report(held=14.0), 10)
    held = row(worse, "held memory")
    assert held["regressed"] and worse["regressed"] and worse["worse"] == ["held memory"]
    assert held["noise"] == 2.9 and held["change_percent"] == 40.0
    assert held["text"] == ("held memory: 4.0 MB more than the base (+40.0 %), "
                            "beyond the noise of ±2.9 MB")
    # +25 %, but 2.5 MB is inside the noise: never fails a build.
    noisy = regression_gate(report(), report(held=12.5), 10)
    assert not noisy["regressed"]
    assert "within the noise of ±2.9 MB" in row(noisy, "held memory")["text"]
    # 50 MB is far beyond the noise, but only 5 % of a 1000 MB peak.
    small = regression_gate(report(peak=1000.0), report(peak=1050.0), 10)
    assert not small["regressed"] and "not more than 10 %" in row(small, "peak")["text"]
    assert regression_gate(report(peak=1000.0), report(peak=1050.0), 4)["worse"] == ["peak"]
    # Less memory is never a regression.
    assert not regression_gate(report(held=40.0), report(held=1.0), 0)["regressed"]


def test_a_noisier_run_needs_a_bigger_change():
    # A plateau that swings by 10 MB sample to sample: the peak's noise is its spread.
    samples = [{"phase": "baseline", "cycle": 1, "process": {"tree_service_mb": 50.0}}] * 8
    samples += [{"phase": "load", "cycle": 1, "process": {"tree_service_mb": mb}}
                for mb in [60.0, 70.0] * 8]
    noise = figure_noise_mb(report(), samples)
    assert noise["peak"] == pytest.approx(7.413) and noise["held memory"] == pytest.approx(2 / 3)
    gate = regression_gate(report(), report(peak=115.0), 10, samples, samples)
    assert not gate["regressed"] and row(gate, "peak")["noise"] == 32.4


def test_a_leak_rate_against_a_base_that_grew_by_nothing():
    base = report(rate=0.0, ci=(-0.2, 0.3))
    # Above the base's whole interval, but its own run does not call it a leak.
    creep = regression_gate(base, report(rate=1.0, ci=(0.5, 1.5)), 10)
    assert not creep["regressed"] and row(creep, "leak rate")["change_percent"] is None
    leak = regression_gate(base, report(rate=1.0, ci=(0.5, 1.5), verdict="leak"), 10)
    assert leak["worse"] == ["leak rate"]
    # A leak inside the base's interval is within the noise.
    inside = regression_gate(base, report(rate=0.2, ci=(-0.1, 0.5), verdict="leak"), 10)
    assert not inside["regressed"]


def test_a_leak_rate_against_a_base_that_leaked():
    base = report(rate=1.0, ci=(0.8, 1.2), verdict="leak")
    faster = report(rate=1.5, ci=(1.3, 1.7), verdict="leak")
    assert regression_gate(base, faster, 10)["worse"] == ["leak rate"]
    assert not regression_gate(base, faster, 60)["regressed"]  # +50 %
    overlapping = report(rate=1.25, ci=(1.1, 1.4), verdict="leak")
    assert not regression_gate(base, overlapping, 10)["regressed"]


def test_an_incomplete_run_is_compared_and_said_so():
    gate = regression_gate(report(), report(complete=False, held=None), 10)
    assert gate["notes"] == ["the new run did not complete (end reason: interrupted): "
                             "compared on what it measured, which may miss memory it "
                             "never reached"]
    assert row(gate, "held memory")["text"] == ("held memory: not measured in the new run, "
                                                "not compared")


@pytest.mark.parametrize("percent", [-1.0, float("nan"), float("inf")])
def test_a_percentage_that_is_not_one_is_refused(percent):
    with pytest.raises(BadInput):
        regression_gate(report(), report(), percent)


def run_dir(path, data):
    path.mkdir()
    (path / "comprehensive_memory_analysis.json").write_text(json.dumps(data))
    return str(path)


def test_the_gate_from_the_command_line(tmp_path):
    base = run_dir(tmp_path / "base", report())
    worse = run_dir(tmp_path / "worse", report(held=50.0))
    out = str(tmp_path / "cmp")
    failed = run_script("memory_analysis_runner.py", "compare", base, worse,
                        "--fail-on-regression", "10", "--output-dir", out)
    assert failed.returncode == 3, failed.stderr
    assert ("  WORSE held memory: 40.0 MB more than the base (+400.0 %), beyond the noise "
            "of ±2.9 MB") in failed.stdout.splitlines()
    assert failed.stderr.strip().endswith(
        "error: memory regression: held memory worse than the base by more than 10 % "
        "and beyond the noise")
    gate = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["gate"]
    assert gate["regressed"] and gate["worse"] == ["held memory"]
    # Without the option, the same comparison only reports.
    assert run_script("memory_analysis_runner.py", "compare", base, worse,
                      "--output-dir", out).returncode == 0
    bad = run_dir(tmp_path / "bad", {"tool": "memory_analysis_runner"})
    for args in (["--fail-on-regression", "-5"], ["--fail-on-regression", "ten"],
                 [str(tmp_path / "missing")], [bad]):
        second = [] if args[0].startswith("--") else args
        options = args if args[0].startswith("--") else ["--fail-on-regression", "10"]
        refused = run_script("memory_analysis_runner.py", "compare", base,
                             *(second or [worse]), *options, "--output-dir", out)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "Traceback" not in refused.stderr


def test_a_new_run_oom_killed_in_its_limit_is_a_regression_whatever_its_figures():
    base = report()
    killed = {**report(peak=90.0), "end_reason": "oom_killed"}  # capped by the limit
    gate = regression_gate(base, killed, 10)
    assert gate["regressed"] and gate["worse"][0] == "an OOM kill in its memory limit"
    assert any("OOM-killed in its memory limit" in note for note in gate["notes"])
    # Both killed: the figures decide, as for any two runs.
    assert not regression_gate(killed, killed, 10)["regressed"]
