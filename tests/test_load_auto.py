"""--load-test auto: the load goes on until the leak test can tell. Real services started
by the runner, paced so that they mostly wait: a flat one ends "no leak" before its cap,
a clear leak ends "leak" within the seed's 120 s, and one that cannot be told in time
ends at its cap saying what would tell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_runs import PROGRAMS, ROOT, Run, free_port, runner, shared_run

from memory_analysis.analysis.runlength import look_times, run_length, settles
from memory_analysis.analysis.thresholds import AUTO_LEAK_FROM_S
from memory_analysis.runner.config import RunnerConfig, parse_load_test

PACED = ["--baseline", "3", "--cooldown", "8", "--interval", "0.25", "--rate", "200"]


def items_service(port: int) -> list[str]:
    return ["--service-cmd", f"{sys.executable} aiohttp_app.py {port}",
            "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
            "--scenario", str(PROGRAMS / "items_scenario.json")]


@shared_run(seconds=60, paced=True)
def auto_flat_run(work: Path) -> Run:
    # Judged against 16 GB, a leak worth caring about grows 3.8 MB/min: a flat service
    # rules that out at the first look or the next. (Against 4 GB, one run of two had its
    # small warm-up under load read as a curve still slowing, whose 72 h could not be
    # bounded under the headroom in 68 s: too short to tell up to the cap.)
    # The cap is 5 min: the first looks nearly always tell; in one busy suite of many its
    # warm-up was still read as a curve slowing at every look to 120 s.
    return runner(work, *PACED, "--load-test", "auto:300", "--target-memory", "16G",
                  *items_service(free_port()), timeout=420)


@shared_run(seconds=150, paced=True)
def auto_leak_run(work: Path) -> Run:
    return runner(work, *PACED, "--load-test", "auto:300", "--demo-leak-kb", "16")


@shared_run(seconds=55, paced=True)
def auto_cap_run(work: Path) -> Run:
    # Judged against 128 MB, a leak worth caring about grows 0.02 MB/min: more than 40 s
    # can rule out. (Against 256 MB, 0.05 MB/min, one run of three was "no leak" once
    # the cooldown was judged too; against 128 MB, those three runs judged again were all
    # too short to tell.)
    return runner(work, *PACED, "--load-test", "auto:40", "--target-memory", "128M",
                  *items_service(free_port()))


def _load_report(run: Run) -> dict:
    return json.loads((run.out / "load_test_during_analysis.json").read_text())


def test_a_flat_service_ends_no_leak_before_its_cap(auto_flat_run):
    report = auto_flat_run.ok().report()
    length = report["run_length"]
    assert report["memory"]["leak"]["verdict"] == "no leak", report["memory"]["leak"]["reason"]
    assert length["stopped"] == "no leak"
    assert length["looks"][-1]["verdict"] == "no leak"
    assert length["load_s"] < 290  # the cap is 300 s: it stopped at a look before it
    assert "ruled out a leak" in length["reason"]
    load = _load_report(auto_flat_run)
    assert load["complete"] is True and load["end_reason"] == "ended"
    assert report["complete"] is True
    assert "Load length (auto): the leak test ruled out" in auto_flat_run.stdout
    looks = len(look_times(300))
    assert f"leak test: look 1 of up to {looks} after 36 s of load" in auto_flat_run.stdout


def test_a_clear_leak_ends_leak_within_the_seeds_two_minutes(auto_leak_run):
    report = auto_leak_run.ok().report()
    length = report["run_length"]
    assert report["memory"]["leak"]["verdict"] == "leak", report["memory"]["leak"]["reason"]
    assert length["stopped"] == "leak"
    # Told at the look on 120 s of load; the load ends once that look is taken.
    assert length["looks"][-1]["load_s"] == pytest.approx(120, abs=1)
    assert length["load_s"] < 135


def test_what_cannot_be_told_by_the_cap_ends_there_saying_what_would(auto_cap_run):
    report = auto_cap_run.ok().report()
    length = report["run_length"]
    assert length["stopped"] == "cap"
    assert length["load_s"] >= 38
    assert report["memory"]["leak"]["verdict"] == "too short to tell"
    assert "--load-test auto:" in length["reason"]
    load = _load_report(auto_cap_run)
    assert load["complete"] is True and load["end_reason"] != "ended"  # it ran to the cap
    assert "Load length (auto): the load reached its cap of 40 s" in auto_cap_run.stdout


@pytest.mark.parametrize("args, fragment", [
    (["--load-test", "auto:soon"], "--load-test must be seconds of load, or auto"),
    (["--load-test", "auto", "--users-steps", "5,10"], "does not go with --users-steps"),
    (["--load-test", "auto", "--url", "http://127.0.0.1:9"], "needs the service's memory"),
])
def test_bad_auto_options_exit_2_with_one_line(tmp_path, args, fragment):
    result = subprocess.run([sys.executable, str(ROOT / "memory_analysis_runner.py"), *args,
                             "--output-dir", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_looks_come_each_one_and_a_half_times_the_load_before_up_to_the_cap():
    assert AUTO_LEAK_FROM_S == RunnerConfig().load_test  # the default run's load
    # One look falls on the default run's 120 s, the first from which a look stops on a
    # leak.
    assert look_times(900) == pytest.approx([35.56, 53.33, 80, 120, 180, 270, 405, 607.5,
                                             900], abs=0.01)
    assert look_times(40) == pytest.approx([35.56, 40], abs=0.01)
    assert look_times(20) == [20]


def test_load_test_option_reads_seconds_and_auto_with_a_cap():
    assert parse_load_test("120") == (120.0, False)
    assert parse_load_test("auto") == (900.0, True)
    assert parse_load_test("auto:20m") == (1200.0, True)
    assert parse_load_test("auto:1h") == (3600.0, True)


def test_run_length_says_why_it_stopped_and_what_would_tell():
    told = run_length(900, [{"load_s": 120, "verdict": "leak"}], 121.0, 1000,
                      {"verdict": "leak"}, "completed")
    assert told["stopped"] == "leak" and told["looks_planned"] == 9
    assert "found a leak after 2 min of load (look 1 of up to 9)" in told["reason"]
    assert "with the cooldown" not in told["reason"]
    changed = run_length(900, [{"load_s": 120, "verdict": "leak"}], 120.0, 100,
                         {"verdict": "no leak"}, "completed")
    assert changed["reason"].endswith("; with the cooldown, the verdict is no leak")
    capped = run_length(60, [{"load_s": 30, "verdict": "too short to tell"},
                             {"load_s": 45, "verdict": "too short to tell"}], 60.0, 1000,
                        {"verdict": "too short to tell", "run_needed_s": 400}, "completed")
    assert capped["stopped"] == "cap"
    assert "about 400 s" not in capped["reason"]  # minutes, as a person reads them
    assert "about 7 min of load" in capped["reason"]
    assert "--load-test auto:7m" in capped["reason"]
    stopped = run_length(60, [], 10.0, 10, {}, "interrupted")
    assert stopped["stopped"] == "interrupted"
    # A cap under two minutes: a leak seen at a look does not stop the load.
    short = run_length(60, [{"load_s": 53.3, "verdict": "leak"}], 60.0, 100,
                       {"verdict": "leak"}, "completed")
    assert short["stopped"] == "cap"
    assert short["reason"] == ("the load ran to its cap of 60 s, where the leak test (with "
                               "the cooldown) said leak")


def test_a_look_stops_on_no_leak_at_once_and_on_a_leak_from_two_minutes():
    assert settles({"verdict": "no leak"}, 35.6)
    assert not settles({"verdict": "leak"}, 80.0)
    assert settles({"verdict": "leak"}, 120.0)
    assert not settles({"verdict": "too short to tell"}, 900.0)
