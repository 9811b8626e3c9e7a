"""Verdicts on real services the runner starts: the demo in each of its modes, a FastAPI
app under uvicorn with two workers (healthy, leaking per request, leaking on a timer),
repeated cycles, and a service running inside a memory cgroup with a limit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cgroups import LimitedCgroup, can_make_cgroups
from common_runs import fastapi_command
from shared_runs import VERDICT, Run, free_port, runner, shared_run


def test_the_demo_by_default_is_safe(demo_run):
    report = demo_run.ok().report()
    assert report["assessment"]["level"] == "safe", report["assessment"]
    assert report["memory"]["leak"]["verdict"] != "leak", report["memory"]["leak"]
    assert report["assessment"]["judged_against"]["source"] in ("host", "cgroup")


@shared_run(seconds=45, quiet=True)
def leaking_demo_run(work: Path) -> Run:
    return runner(work, *VERDICT, "--demo-leak-kb", "16", "--rate", "100")


def test_the_demo_with_a_leak_is_critical(leaking_demo_run):
    report = leaking_demo_run.ok().report()
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak" and leak["suspected"] is True, leak
    assert leak["follows"] == "requests"
    assert 8_000 < leak["bytes_per_request"] < 32_000, leak  # 16 KB kept per request
    assert report["assessment"]["level"] == "critical"
    assert report["assessment"]["reasons"][0].startswith("memory kept growing (a leak")


def test_the_demo_with_a_held_cache_is_a_warning_on_a_small_plan(held_run):
    report = held_run.ok().report()
    assert report["memory"]["leak"]["verdict"] != "leak", report["memory"]["leak"]
    judged = report["assessment"]["judged_against"]
    if judged["source"] == "plan":  # unless the machine's own cgroup limit is smaller
        assert judged == {**judged, "limit_mb": 512.0, "plan": "render:starter"}
        assert report["assessment"]["level"] == "warning", report["assessment"]
        assert "held after the load" in report["assessment"]["reasons"][0]


def test_a_healthy_fastapi_app_under_uvicorn_workers(fastapi_workers_run):
    report = fastapi_workers_run.ok().report()
    assert report["load_test"]["error_rate"] == 0.0
    assert report["memory"]["leak"]["verdict"] != "leak", report["memory"]["leak"]
    assert report["assessment"]["level"] != "critical", report["assessment"]
    monitor = fastapi_workers_run.report("memory_analysis.json")
    # The master and both workers are in the measured tree.
    assert max(s["process"]["children"] for s in monitor["samples"]) >= 2


@shared_run(seconds=45, quiet=True)
def fastapi_leak_run(work: Path) -> Run:
    return runner(work, *VERDICT, *fastapi_command(free_port(), "LEAK_KB=32"), "--rate", "60")


def test_a_fastapi_app_that_keeps_memory_per_request(fastapi_leak_run):
    report = fastapi_leak_run.ok().report()
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak" and leak["follows"] == "requests", leak
    assert 16_000 < leak["bytes_per_request"] < 64_000, leak
    assert report["assessment"]["level"] == "critical"


@shared_run(seconds=45, quiet=True)
def fastapi_timer_run(work: Path) -> Run:
    # 40 KB a second per worker from a background thread: 4.7 MB/min, load or not.
    return runner(work, *VERDICT, *fastapi_command(free_port(), "TIMER_KB=40"), "--rate", "40")


def test_a_fastapi_app_that_keeps_memory_on_a_timer(fastapi_timer_run):
    leak = fastapi_timer_run.ok().report()["memory"]["leak"]
    assert leak["verdict"] == "leak", leak
    assert leak["follows"] in ("time", None), leak  # a short cooldown may not tell
    assert leak["bytes_per_request"] is None
    assert 2.5 < leak["slope_mb_per_min"] < 8, leak


@shared_run(seconds=24)
def cycles_run(work: Path) -> Run:
    return runner(work, "--baseline", "2", "--load-test", "6", "--cooldown", "3",
                  "--interval", "0.2", "--users", "4", "--cycles", "2")


def test_cycles_repeat_load_and_cooldown(cycles_run):
    out = cycles_run.ok().out
    report = cycles_run.report()
    cycles = [json.loads((out / f"load_cycle_{c}.json").read_text()) for c in (1, 2)]
    assert report["load_test"]["requests"] == sum(c["totals"]["requests"] for c in cycles)
    samples = cycles_run.report("memory_analysis.json")["samples"]
    tagged = {(s["phase"], s["cycle"]) for s in samples}
    assert {("load", 1), ("cooldown", 1), ("load", 2), ("cooldown", 2)} <= tagged
    assert [s["cycle"] for s in report["timeline"]["steps"]] == [1, 2]


@shared_run(seconds=45)
def contained_run(work: Path) -> Run | None:
    """The demo inside a memory cgroup limited to 400 MB (where cgroups can be made)."""
    if not can_make_cgroups():
        return None
    port = free_port()
    group = LimitedCgroup(limit_mb=400)
    try:
        command = (f"sh -c 'echo $$ > {group.path}/cgroup.procs && exec {sys.executable} -m "
                   f"memory_analysis.demo --host 127.0.0.1 --port {port}'")
        return runner(work, *VERDICT, "--service-cmd", command, "--url",
                      f"http://127.0.0.1:{port}", "--target-memory", "2G")
    finally:
        group.remove()


@pytest.mark.skipif(not can_make_cgroups(), reason="needs root and a writable memory cgroup")
def test_a_service_in_a_memory_cgroup_is_judged_against_its_limit(contained_run):
    report = contained_run.ok().report()
    judged = report["assessment"]["judged_against"]
    assert judged["source"] == "cgroup" and judged["limit_mb"] == 400.0, judged
    assert report["memory"]["metric"] == "working_set"
    assert 0 < report["assessment"]["peak_percent_of_limit"] < 80
