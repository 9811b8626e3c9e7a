"""The service run inside the memory it will get (--memory-limit, --rehearse) and the
smallest memory that serves the load (--find-minimum): real memory cgroups, real OOM
kills, the runner as a user starts it."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cgroups import can_make_cgroups
from shared_runs import PROGRAMS, ROOT, Run, free_port, run_script, runner, shared_run

from memory_analysis.analysis import rehearsal
from memory_analysis.monitor.cgroup import cgroup_mounts
from memory_analysis.runner.confine import PREFIX

# Tests with real cgroups skip on a machine where the runner may not make one, never in
# CI (whose machine can, as root).
needs_cgroups = pytest.mark.skipif(
    not can_make_cgroups() and os.environ.get("CI") != "true",
    reason="needs root and a writable memory cgroup")
PHASES = ["--baseline", "3", "--cooldown", "3", "--interval", "0.25"]


def groups_of(pid: int) -> list[Path]:
    """The memory groups a runner with this PID made that are still there."""
    v1, v2 = cgroup_mounts()
    mounts = {point for _root, point in [*v1.values(), *([v2] if v2 else [])]}
    return [p for mount in mounts for p in Path(mount).rglob(f"{PREFIX}{pid}-*") if p.is_dir()]


# -- pure parts ------------------------------------------------------------------------
def figures(requests: int = 1000, failures: int = 0, p95: float | None = 5.0,
            se: float = 0.1, kills: int = 0, started: bool = True,
            refaults: int | None = None) -> rehearsal.RoundFigures:
    return rehearsal.RoundFigures(requests, failures, p95, se, kills, started, refaults)


def test_a_round_serves_only_without_kills_extra_errors_or_a_slower_tail():
    base = figures()
    assert rehearsal.judge_round(base, figures())[:2] == (True, "served")
    assert rehearsal.judge_round(base, figures(kills=1))[1] == "oom killed"
    assert rehearsal.judge_round(base, figures(started=False))[1] == "did not start"
    # With no error unlimited, any error is one too many.
    assert rehearsal.judge_round(base, figures(failures=1))[1] == "errors"
    # 20 % slower is the edge; beyond it and its noise, the round is slower.
    assert rehearsal.judge_round(base, figures(p95=5.9))[0] is True
    assert rehearsal.judge_round(base, figures(p95=7.0))[1] == "slower"
    # A noisy unlimited round widens what serves.
    assert rehearsal.judge_round(figures(se=1.0), figures(p95=7.0))[0] is True


def test_a_slower_round_is_the_limits_only_when_the_kernel_reclaimed_more():
    """On a busy machine a round can be slow for no reason of its memory: the limit
    slows a service by making the kernel reclaim pages it then reads back."""
    base = figures(refaults=4)
    machine = rehearsal.judge_round(base, figures(p95=30.0, refaults=6))
    assert machine[:2] == (True, "served") and "the machine was busy" in machine[2]
    assert rehearsal.judge_round(base, figures(p95=30.0, refaults=400))[1] == "slower"
    # Without the count, the latency alone decides.
    assert rehearsal.judge_round(figures(), figures(p95=30.0))[1] == "slower"


def test_errors_are_held_to_the_unlimited_rounds_rate_and_its_noise():
    base = figures(requests=10_000, failures=100)  # 1 %
    # 1,000 requests: 10 expected, up to 10 + 3.09 √10 = 19.8 allowed.
    assert rehearsal.judge_round(base, figures(failures=19))[0] is True
    assert rehearsal.judge_round(base, figures(failures=25))[1] == "errors"


def test_the_search_runs_from_the_floor_to_the_seeds_minimum_by_halves():
    assert rehearsal.search_span(40.0, 100.0) == (40.0, 150.0)
    assert rehearsal.next_limit(40.0, 150.0) == 95
    rounds = [{"limit_mb": 95, "served": False}, {"limit_mb": 123, "served": True},
              {"limit_mb": 109, "served": True}]
    summary = rehearsal.minimum_summary(rounds, 40.0, 150.0, 100.0)
    assert summary["minimum_mb"] == 109
    assert summary["resolution_mb"] == 14  # between 95 (failed) and 109 (served)
    assert summary["rule_of_thumb_min_mb"] == 150
    assert summary["buy_mb"] == 146  # 109 × 2 / 1.5
    none = rehearsal.minimum_summary([{"limit_mb": 95, "served": False}], 40, 150, 100)
    assert none["minimum_mb"] is None and none["buy_mb"] is None


def test_the_rate_at_a_kill_is_the_seconds_before_it():
    rows = [{"t": t, "requests": 100 * t} for t in range(1, 11)]
    rate, sent = rehearsal.rate_before(rows, 6.2)
    # The whole seconds 2-6; the seventh, cut short by the kill, counts as sent only.
    assert rate == pytest.approx((200 + 300 + 400 + 500 + 600) / 5)
    assert sent == sum(100 * t for t in range(1, 8))


# -- real runs ---------------------------------------------------------------------------
@shared_run(seconds=20, paced=True)
def limit_oom_run(work: Path) -> Run:
    """The demo keeping 64 KB a request, at 300 requests a second, in 100 MB."""
    return runner(work, *PHASES, "--load-test", "30", "--rate", "300",
                  "--demo-leak-kb", "64", "--memory-limit", "100M")


@needs_cgroups
def test_a_leak_in_a_small_limit_is_oom_killed_and_the_report_says_when(limit_oom_run):
    assert limit_oom_run.returncode == 0, limit_oom_run.stdout + limit_oom_run.stderr
    report = limit_oom_run.report()
    # The kill is the rehearsal's answer: a complete report, not a crashed run.
    assert report["complete"] is True and report["end_reason"] == "oom_killed"
    assert report["assessment"]["level"] == "critical"
    assert "ran out of memory" in report["assessment"]["reasons"][0]
    block = report["rehearsal"]
    assert block["limit_mb"] == 100 and block["source"] == "memory_limit"
    assert block["survived"] is False and block["oom_kills"] >= 1
    assert block["killed_in_phase"] == "load"
    load_start = report["timeline"]["steps"][0]["start_t"]
    assert load_start < block["killed_at_t"] < load_start + 30
    assert block["rate_at_kill_rps"] > 100 and block["requests_before_kill"] > 0
    assert block["swap"] == "off"
    assert report["assessment"]["judged_against"]["source"] == "memory_limit"
    assert any(text.startswith("It was OOM-killed in the 100 MB memory limit it ran in")
               for text in report["recommendations"]["suggestions"])
    assert "Rehearsal: Ran in a 100 MB memory limit" in limit_oom_run.stdout
    assert "OOM-killed" in limit_oom_run.stdout and "into the load" in limit_oom_run.stdout
    # The group is gone once the run is over.
    assert not Path(block["cgroup"]).exists()


@shared_run(seconds=20, paced=True)
def rehearse_plan_run(work: Path) -> Run:
    """The healthy demo rehearsed in a plan's 512 MB."""
    return runner(work, *PHASES, "--load-test", "8", "--rate", "300", "--rehearse",
                  "--plan", "render:starter")


@needs_cgroups
def test_a_healthy_service_in_a_roomy_plan_survives_judged_against_it(rehearse_plan_run):
    assert rehearse_plan_run.returncode == 0, rehearse_plan_run.stdout
    report = rehearse_plan_run.report()
    block = report["rehearsal"]
    assert block["survived"] is True and block["oom_kills"] == 0
    assert block["limit_mb"] == 512 and block["source"] == "plan"
    judged = report["assessment"]["judged_against"]
    assert judged["source"] == "plan" and judged["limit_mb"] == 512 and judged["enforced"]
    # Its level is its peak in the group against the limit it ran in.
    assert report["assessment"]["peak_percent_of_limit"] == pytest.approx(
        report["memory"]["peak_mb"] * 100 / 512, rel=0.05)
    assert any("of plan render:starter (it ran in that limit)" in reason
               for reason in report["assessment"]["reasons"])
    assert "survived" in block["summary"]
    assert not Path(block["cgroup"]).exists()


@shared_run(seconds=20, paced=True)
def worker_oom_run(work: Path) -> Run:
    """gunicorn with two sync workers, each keeping 256 KB a request, in 100 MB: the
    kernel kills a worker, gunicorn starts another, the service runs on."""
    port = free_port()
    return runner(work, *PHASES, "--load-test", "10", "--rate", "200",
                  "--service-cmd", f"LEAK_KB=256 {sys.executable} -m gunicorn wsgi_app:app "
                  f"-b 127.0.0.1:{port} -w 2", "--service-cwd", str(PROGRAMS),
                  "--url", f"http://127.0.0.1:{port}", "--memory-limit", "100M",
                  "--scenario", str(PROGRAMS / "items_scenario.json"))


@needs_cgroups
def test_a_worker_oom_killed_and_restarted_is_critical_though_the_service_ran_on(
        worker_oom_run):
    assert worker_oom_run.returncode == 0, worker_oom_run.stdout + worker_oom_run.stderr
    report = worker_oom_run.report()
    assert report["complete"] is True and report["end_reason"] == "completed"
    block = report["rehearsal"]
    assert block["oom_kills"] >= 1 and block["survived"] is False and block["died"] is None
    assert block["killed_in_phase"] == "load"
    assert report["assessment"]["level"] == "critical"
    assert "the service went on (a worker restarted)" in report["assessment"]["reasons"][0]
    assert "the service ran on" in block["summary"]
    assert "SIGKILL" in (worker_oom_run.out / "service.log").read_text()  # gunicorn saw it


HOLD_MB = 150


@shared_run(seconds=110, paced=True)
def find_minimum_run(work: Path) -> Run:
    """An aiohttp service that holds 150 MB, every page written, once it serves."""
    port = free_port()
    return runner(work, "--baseline", "3", "--load-test", "8", "--cooldown", "2",
                  "--interval", "0.25", "--rate", "100", "--find-minimum", "--rounds", "4",
                  "--service-cmd", f"HOLD_MB={HOLD_MB} {sys.executable} aiohttp_app.py {port}",
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
                  "--scenario", str(PROGRAMS / "items_scenario.json"), timeout=400)


@needs_cgroups
def test_find_minimum_measures_a_known_working_set_within_a_fifth(find_minimum_run):
    assert find_minimum_run.returncode == 0, find_minimum_run.stdout + find_minimum_run.stderr
    report = find_minimum_run.report()
    block = report["rehearsal"]
    # What it holds is known: its own memory before it served, and the 150 MB.
    known = block["unloaded_floor_mb"] + HOLD_MB
    assert block["minimum_mb"] == pytest.approx(known, rel=0.20), block
    assert block["rule_of_thumb_min_mb"] > block["minimum_mb"]
    # What this host charged elsewhere (the Python binary the suite's own tools also run)
    # is added back for a fresh container.
    assert block["uncharged_file_mb"] >= 0
    assert block["container_minimum_mb"] == math.ceil(block["minimum_mb"]
                                                     + block["uncharged_file_mb"])
    assert block["buy_mb"] == math.ceil(block["container_minimum_mb"] * 2 / 1.5)
    rounds = block["rounds"]
    assert rounds[0]["outcome"] == "unlimited" and len(rounds) == 5
    assert any(r["outcome"] in ("oom killed", "did not start", "slower", "errors")
               for r in rounds[1:]), rounds
    assert all(r["served"] == (r["outcome"] == "served") for r in rounds[1:])
    for r in rounds[1:]:
        assert (find_minimum_run.out / ".." / r["dir"]).exists() or Path(r["dir"]).exists()
    assert "Minimum: " in find_minimum_run.stdout and "serves the load" in find_minimum_run.stdout
    assert "rounds under limits" in find_minimum_run.stdout  # the time, told in advance
    assert block["took_s"] <= block["planned_s"]


def _start_runner(out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "memory_analysis_runner.py"), "--baseline", "60",
         "--load-test", "10", "--cooldown", "2", "--memory-limit", "300M",
         "--output-dir", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def _wait_for_baseline(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if "baseline:" in line:
            return
    raise AssertionError("the runner ended before its baseline")


@needs_cgroups
def test_the_group_is_removed_after_ctrl_c_and_after_kill_9_by_the_next_run(tmp_path):
    # kill -9 leaves the runner no chance to remove its group.
    killed = _start_runner(tmp_path / "killed")
    _wait_for_baseline(killed)
    left = groups_of(killed.pid)
    assert len(left) == 1
    killed.kill()
    killed.wait()
    assert killed.stdout is not None
    killed.stdout.close()
    deadline = time.monotonic() + 10
    while (left[0] / "cgroup.procs").exists() and (left[0] / "cgroup.procs").read_text() \
            and time.monotonic() < deadline:
        time.sleep(0.05)  # the service goes with its runner (PR_SET_PDEATHSIG)
    assert left[0].exists()
    # The next run removes it; Ctrl-C on that one still removes its own.
    second = _start_runner(tmp_path / "second")
    _wait_for_baseline(second)
    assert not left[0].exists()
    assert len(groups_of(second.pid)) == 1
    second.send_signal(signal.SIGINT)
    assert second.wait(timeout=60) == 130
    assert second.stdout is not None
    second.stdout.close()
    assert groups_of(second.pid) == []
    report = json.loads((tmp_path / "second" / "comprehensive_memory_analysis.json").read_text())
    assert report["complete"] is False and report["end_reason"] == "interrupted"
    assert any("left by an earlier run" in p and str(left[0]) in p for p in report["problems"])


@needs_cgroups
def test_no_cgroup_to_write_is_refused_with_the_reason(tmp_path):
    """In a mount namespace where every cgroup hierarchy is read-only, as for a user
    without the rights."""
    remounts = " && ".join(f"mount -o remount,bind,ro {m}" for m in
                           ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
                           if os.path.ismount(m))
    script = (f"{remounts} && exec {sys.executable} {ROOT / 'memory_analysis_runner.py'} "
              f"--quick --memory-limit 200M --output-dir {tmp_path / 'out'}")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "cannot run the service in a memory limit here" in lines[0]
    assert "Read-only file system" in lines[0] and "run it as root" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--memory-limit", "lots"], "--memory-limit must be a memory size"),
    (["--rehearse"], "--rehearse needs the memory to rehearse in"),
    (["--rehearse", "--memory-limit", "1G", "--plan", "render:starter"], "exclude each other"),
    (["--find-minimum", "--memory-limit", "1G"], "chooses its own limits"),
    (["--allow-swap"], "--allow-swap goes with"),
    (["--rounds", "3"], "--rounds goes with --find-minimum"),
    (["--find-minimum", "--rounds", "0"], "--rounds must be 1 to"),
    (["--find-minimum", "--load-test", "auto"], "repeats one steady load"),
    (["--memory-limit", "1G", "--pid", str(os.getpid()), "--url", "http://127.0.0.1:9"],
     "the runner must start it"),
])
def test_rehearsal_options_that_cannot_work_are_refused(tmp_path, args, message):
    result = run_script("memory_analysis_runner.py", *args, "--output-dir", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@needs_cgroups
def test_a_limit_above_the_runners_own_containers_is_refused(tmp_path):
    """The runner inside a group held to 300 MB, as in a container of that size."""
    from cgroups import LimitedCgroup

    container = LimitedCgroup(limit_mb=300)
    try:
        script = (f"echo $$ > {container.path}/cgroup.procs && exec {sys.executable} "
                  f"{ROOT / 'memory_analysis_runner.py'} --quick --memory-limit 1G "
                  f"--output-dir {tmp_path / 'out'}")
        result = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                                timeout=60)
    finally:
        container.remove()
    assert result.returncode == 2, result.stderr
    assert "the runner itself is held to 300 MB" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_rounds_label_reaches_the_terminal_as_written():
    """rich reads "[...]" as markup: the live view prints the user's words as text."""
    import io

    from rich.console import Console

    from memory_analysis.reports.runner_console import RichRunnerView
    from memory_analysis.runner.minimum import RoundView

    view = RichRunnerView()
    screen = io.StringIO()
    view.console = Console(file=screen, force_terminal=True, width=200, color_system=None)
    RoundView(view, "round 2 of 5, limit 96 MB").phase("starting", "waiting for [bold]x")
    assert "starting: [round 2 of 5, limit 96 MB] waiting for [bold]x" in screen.getvalue()
