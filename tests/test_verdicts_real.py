"""Verdicts on real services the runner starts: the demo in each of its modes, a FastAPI
app under uvicorn with two workers (healthy, leaking per request, leaking on a timer),
repeated cycles, and a service running inside a memory cgroup with a limit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cgroups import LimitedCgroup, can_make_cgroups
from conftest import PROGRAMS, run_script

from memory_analysis.runner.service import free_port

# Long enough for a trend, short enough for a test suite.
PHASES = ["--baseline", "3", "--load-test", "24", "--cooldown", "8", "--interval", "0.25"]


def analyse(out: Path, *args: str, timeout: float = 150) -> dict:
    result = run_script("memory_analysis_runner.py", *PHASES, *args, "--output-dir", str(out),
                        timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "comprehensive_memory_analysis.json").read_text())


def fastapi(port: int, env: str = "") -> list[str]:
    # A leading NAME=value, as a shell takes it.
    command = (f"{env} {sys.executable} -m uvicorn fastapi_app:app --app-dir {PROGRAMS} "
               f"--host 127.0.0.1 --port {port} --workers 2 --log-level warning").strip()
    return ["--service-cmd", command, "--url", f"http://127.0.0.1:{port}",
            "--scenario", str(PROGRAMS / "fastapi_scenario.json")]


def test_the_demo_by_default_is_safe(tmp_path):
    report = analyse(tmp_path / "healthy")
    assert report["assessment"]["level"] == "safe", report["assessment"]
    assert report["memory"]["leak"]["verdict"] != "leak", report["memory"]["leak"]
    assert report["assessment"]["judged_against"]["source"] in ("host", "cgroup")


def test_the_demo_with_a_leak_is_critical(tmp_path):
    report = analyse(tmp_path / "leak", "--demo-leak-kb", "16", "--rate", "100")
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak" and leak["suspected"] is True, leak
    assert leak["follows"] == "requests"
    assert 8_000 < leak["bytes_per_request"] < 32_000, leak  # 16 KB kept per request
    assert report["assessment"]["level"] == "critical"
    assert report["assessment"]["reasons"][0].startswith("memory kept growing (a leak")


def test_the_demo_with_a_held_cache_is_a_warning_on_a_small_plan(tmp_path):
    report = analyse(tmp_path / "held", "--demo-hold-mb", "80", "--plan", "render:starter")
    assert report["memory"]["leak"]["verdict"] != "leak", report["memory"]["leak"]
    judged = report["assessment"]["judged_against"]
    if judged["source"] == "plan":  # unless the machine's own cgroup limit is smaller
        assert judged == {**judged, "limit_mb": 512.0, "plan": "render:starter"}
        assert report["assessment"]["level"] == "warning", report["assessment"]
        assert "held after the load" in report["assessment"]["reasons"][0]


def test_a_healthy_fastapi_app_under_uvicorn_workers(tmp_path):
    report = analyse(tmp_path / "fastapi", *fastapi(free_port()))
    assert report["load_test"]["error_rate"] == 0.0
    assert report["memory"]["leak"]["verdict"] != "leak", report["memory"]["leak"]
    assert report["assessment"]["level"] != "critical", report["assessment"]
    monitor = json.loads((tmp_path / "fastapi" / "memory_analysis.json").read_text())
    # The master and both workers are in the measured tree.
    assert max(s["process"]["children"] for s in monitor["samples"]) >= 2


def test_a_fastapi_app_that_keeps_memory_per_request(tmp_path):
    report = analyse(tmp_path / "fastapi-leak", *fastapi(free_port(), "LEAK_KB=32"),
                     "--rate", "60")
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak" and leak["follows"] == "requests", leak
    assert 16_000 < leak["bytes_per_request"] < 64_000, leak
    assert report["assessment"]["level"] == "critical"


def test_a_fastapi_app_that_keeps_memory_on_a_timer(tmp_path):
    # 40 KB a second per worker from a background thread: 4.7 MB/min, load or not.
    report = analyse(tmp_path / "fastapi-timer", *fastapi(free_port(), "TIMER_KB=40"),
                     "--rate", "40")
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak", leak
    assert leak["follows"] in ("time", None), leak  # a short cooldown may not tell
    assert leak["bytes_per_request"] is None
    assert 2.5 < leak["slope_mb_per_min"] < 8, leak


def test_cycles_repeat_load_and_cooldown(tmp_path):
    out = tmp_path / "cycles"
    result = run_script("memory_analysis_runner.py", "--baseline", "2", "--load-test", "6",
                        "--cooldown", "3", "--interval", "0.2", "--users", "4", "--cycles", "2",
                        "--output-dir", str(out), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "comprehensive_memory_analysis.json").read_text())
    cycles = [json.loads((out / f"load_cycle_{c}.json").read_text()) for c in (1, 2)]
    assert report["load_test"]["requests"] == sum(c["totals"]["requests"] for c in cycles)
    samples = json.loads((out / "memory_analysis.json").read_text())["samples"]
    tagged = {(s["phase"], s["cycle"]) for s in samples}
    assert {("load", 1), ("cooldown", 1), ("load", 2), ("cooldown", 2)} <= tagged
    assert [s["cycle"] for s in report["timeline"]["steps"]] == [1, 2]


@pytest.mark.skipif(not can_make_cgroups(), reason="needs root and a writable memory cgroup")
def test_a_service_in_a_memory_cgroup_is_judged_against_its_limit(tmp_path):
    port = free_port()
    group = LimitedCgroup(limit_mb=400)
    try:
        command = (f"sh -c 'echo $$ > {group.path}/cgroup.procs && exec {sys.executable} -m "
                   f"memory_analysis.demo --host 127.0.0.1 --port {port}'")
        report = analyse(tmp_path / "contained", "--service-cmd", command, "--url",
                         f"http://127.0.0.1:{port}", "--target-memory", "2G")
    finally:
        group.remove()
    judged = report["assessment"]["judged_against"]
    assert judged["source"] == "cgroup" and judged["limit_mb"] == 400.0, judged
    assert report["memory"]["metric"] == "working_set"
    assert 0 < report["assessment"]["peak_percent_of_limit"] < 80
