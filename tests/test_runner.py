"""memory_analysis_runner.py end to end, as a user runs it: real demo service, real
monitor and load tester processes, short phases."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from cgroups import LimitedCgroup, can_make_cgroups
from conftest import PROGRAMS, ROOT, run_script
from shared_runs import (
    SHORT,
    VERDICT,
    Run,
    command,
    free_port,
    phase_seconds,
    runner,
    shared_run,
)

from memory_analysis.analysis.catalogs import load_catalogs
from memory_analysis.numbers import usd

RUNNER = str(ROOT / "memory_analysis_runner.py")


def leftovers(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker`` (an output dir or port)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
        except psutil.Error:
            continue
        if marker in cmdline and process.info["status"] != psutil.STATUS_ZOMBIE \
                and process.pid != os.getpid():
            found.append(cmdline)
    return found


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def wait_for_load_rows(stream: Path, rows: int, timeout_s: float = 60) -> None:
    """Until the load tester has streamed ``rows`` seconds of requests: the load is on."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = stream.read_text().splitlines() if stream.exists() else []
        sent = 0
        for line in lines:
            try:
                sent += json.loads(line).get("requests", 0) > 0
            except json.JSONDecodeError:
                break  # a line still being written
        if sent >= rows:
            return
        assert time.monotonic() < deadline, "the load phase never started"
        time.sleep(0.05)


def test_demo_run_end_to_end(demo_run):
    out = demo_run.ok().out
    report = load(out / "comprehensive_memory_analysis.json")
    monitor = load(out / "memory_analysis.json")
    load_test = load(out / "load_test_during_analysis.json")
    assert report["tool"] == "memory_analysis_runner" and report["schema_version"] == 1
    assert report["complete"] is True
    for key in ("config", "service", "files", "phases", "memory", "load_test", "assessment",
                "recommendations"):
        assert key in report, key
    assert report["service"]["mode"] == "demo" and report["service"]["pid"] > 0
    assert report["files"] == {"memory": "memory_analysis.json",
                               "load_test": "load_test_during_analysis.json"}
    asked = phase_seconds(VERDICT)
    for name in ("baseline", "load", "cooldown"):
        phase = report["phases"][name]
        # At least what was asked (the load also spans the load tester's start and exit,
        # longer on a busy machine), and one sample per interval of what it lasted.
        assert phase["duration_s"] >= asked[name] - 0.3, (name, phase["duration_s"])
        expected = phase["duration_s"] / asked["interval"]
        assert abs(phase["samples"] - expected) <= 2, (name, phase["samples"], expected)
        assert set(phase["memory_mb"]) == {"min", "mean", "max", "last"}
        assert set(phase["system_percent"]) >= {"mean", "max"}
    memory = report["memory"]
    for key in ("metric", "baseline_mb", "peak_mb", "growth_mb", "cooldown_end_mb",
                "recovery_percent", "peak_system_percent", "leak"):
        assert key in memory, key
    assert memory["metric"] == "service_tree"
    assert memory["peak_mb"] >= memory["baseline_mb"] > 0
    assert set(memory["leak"]) >= {"suspected", "slope_mb_per_min", "bytes_per_request",
                                   "confidence", "reason"}
    assert report["load_test"]["requests"] == load_test["totals"]["requests"] > 0
    assert report["assessment"]["level"] in ("safe", "warning", "critical")
    assert report["assessment"]["reasons"]
    recommendations = report["recommendations"]
    # peak x 1.5 and x 2.0, rounded up to whole MB
    assert recommendations["min_memory_mb"] == math.ceil(memory["peak_mb"] * 1.5)
    assert recommendations["recommended_memory_mb"] == math.ceil(memory["peak_mb"] * 2)
    for provider in ("render", "aws", "gcp", "azure"):
        plan = recommendations["plans"][provider]
        assert plan["memory_mb"] >= recommendations["recommended_memory_mb"]
    assert recommendations["scaling"]["strategy"] and recommendations["scaling"]["reason"]
    # Every sample of the monitor's file is tagged with its phase.
    phases = [s["phase"] for s in monitor["samples"]]
    assert phases[0] == "baseline" and phases[-1] == "cooldown" and "load" in phases
    assert phases == sorted(phases, key=["baseline", "load", "cooldown"].index)
    assert "Files written" in demo_run.stdout and "Level:" in demo_run.stdout
    assert leftovers(str(out)) == []


def run_with_rate(work: Path, *demo_options: str, load_s: str = "8",
                  options: tuple[str, ...] = ()) -> Run:
    """The demo service with a small cache (it fills in the first second of load), at a
    steady 40 requests per second; ``options``: the runner's own, more."""
    port = free_port()
    return runner(work, "--baseline", "2", "--load-test", load_s, "--cooldown", "3",
                  "--interval", "0.2", "--users", "4", "--rate", "40",
                  "--service-cmd", demo_cmd(port, "--cache-entries", "4", *demo_options),
                  "--url", f"http://127.0.0.1:{port}", *options)


# A catalog whose smallest plan (72 MB) a leak of 2.5 MB/s from the demo's 37 MB crosses
# 80 % and 90 % of within the load: a plan a user would buy (512 MB) takes 200 s more.
TINY_PLAN = ("--catalog", str(PROGRAMS / "tiny_catalog.json"), "--plan", "tiny:small")


@shared_run(seconds=30)
def leaky_demo_run(work: Path) -> Run:
    # 20 s of load: in 8 s the demo's allocator steps left too few independent looks at
    # its noise for a verdict once in a few runs (the leak verdict's evidence rule).
    # Judged against a 72 MB plan, which the leak fills halfway through the load.
    return run_with_rate(work, "--leak-kb", "64", load_s="20", options=TINY_PLAN)


@shared_run(seconds=16)
def cache_demo_run(work: Path) -> Run:
    return run_with_rate(work)


def test_a_service_that_keeps_memory_per_request_is_flagged(leaky_demo_run):
    leak = leaky_demo_run.ok().report()["memory"]["leak"]
    assert leak["suspected"] is True, leak
    # 64 KB kept per request: the estimate is in the right range.
    assert 30_000 < leak["bytes_per_request"] < 130_000, leak


def test_a_leaking_service_judged_against_a_plan_raises_its_alerts_in_report_and_live_view(
        leaky_demo_run):
    """The monitor's alerts fire at 80 % and 90 % of the plan the service is judged
    against (not only of the host or a cgroup), name it, reach the report, and show in
    the live view (the plain progress lines, as the run goes); the plans that follow are
    introduced as lasting only until the leak fills them."""
    run = leaky_demo_run.ok()
    report = run.report()
    judged = report["assessment"]["judged_against"]
    assert judged["source"] == "plan" and judged["limit_mb"] == 72.0, judged
    alerts = [a for a in report["alerts"] if a["metric"] == "target_percent"]
    assert [(a["level"], a["threshold"]) for a in alerts] == [("warning", 80),
                                                               ("critical", 90)], alerts
    for alert in alerts:
        assert alert["target"] == "plan tiny:small" and alert["target_mb"] == 72.0
        assert "of plan tiny:small (72 MB)" in alert["message"], alert
    live, merged, summary = run.stdout.partition("merging:")
    assert merged, run.stdout
    for alert in alerts:
        assert f"alert: {alert['message']}" in live, live
    assert "% of the plan tiny:small" in live
    needs = report["recommendations"]
    assert needs["sizing_note"].startswith("A leak was found")
    assert all(plan["lasts_h"] is not None for plan in needs["plans"].values())
    intro = summary.index(needs["sizing_note"])
    assert intro < summary.index("until the leak fills them") < summary.index("Level:")
    page = (run.out / "memory_analysis_report.html").read_text()
    assert "Until the leak fills them:" in page


def test_a_cache_that_fills_and_stays_flat_is_not_a_leak(cache_demo_run):
    report = cache_demo_run.ok().report()
    assert report["memory"]["leak"]["suspected"] is False, report["memory"]["leak"]


def test_sigint_during_load_leaves_nothing_behind(tmp_path):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, RUNNER, "--baseline", "1", "--load-test", "30",
                             "--cooldown", "5", "--interval", "0.2", "--users", "4",
                             "--output-dir", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_load_rows(out / "load_test_during_analysis.timeline.jsonl", 2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    report = load(out / "comprehensive_memory_analysis.json")
    assert report["complete"] is False and report["end_reason"] == "interrupted"
    assert load(out / "memory_analysis.json")["complete"] is False
    assert load(out / "load_test_during_analysis.json")["complete"] is False
    assert report["phases"]["load"]["samples"] > 0
    assert leftovers(str(out)) == []
    assert leftovers(f"127.0.0.1 --port {report['service']['url'].rsplit(':', 1)[1]}") == []


def test_a_service_that_never_becomes_healthy(tmp_path):
    out = tmp_path / "unhealthy"
    result = run_script("memory_analysis_runner.py", *SHORT, "--service-cmd",
                        "echo starting up; sleep 60", "--url", "http://127.0.0.1:9",
                        "--startup-timeout", "2", "--output-dir", str(out), timeout=60)
    assert result.returncode == 1
    assert "did not become healthy within 2 s" in result.stderr
    assert "starting up" in result.stderr  # the end of the service's log
    assert "Traceback" not in result.stderr
    assert leftovers("sleep 60") == []


def test_a_service_that_exits_during_startup(tmp_path):
    out = tmp_path / "exits"
    result = run_script("memory_analysis_runner.py", *SHORT, "--service-cmd",
                        "echo cannot bind; exit 3", "--url", "http://127.0.0.1:9",
                        "--output-dir", str(out), timeout=60)
    assert result.returncode == 1
    assert "exited with code 3 during start-up" in result.stderr
    assert "cannot bind" in result.stderr
    assert os.listdir(out) == ["service.log"]  # its log, and nothing else


def demo_cmd(port: int, *extra: str) -> str:
    return (f"{sys.executable} -m memory_analysis.demo --host 127.0.0.1 --port {port} "
            + " ".join(extra))


def test_a_service_that_crashes_mid_run(tmp_path):
    out = tmp_path / "crash"
    port = free_port()
    proc = subprocess.Popen([sys.executable, RUNNER, "--baseline", "1", "--load-test", "20",
                             "--cooldown", "2", "--interval", "0.2", "--users", "2",
                             "--service-cmd", demo_cmd(port), "--url", f"http://127.0.0.1:{port}",
                             "--output-dir", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_load_rows(out / "load_test_during_analysis.timeline.jsonl", 1)
    service = [p for p in psutil.process_iter(["cmdline"])
               if (p.info["cmdline"] or [])[1:3] == ["-m", "memory_analysis.demo"]
               and str(port) in p.info["cmdline"]]
    assert service
    service[0].kill()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout + stderr
    report = load(out / "comprehensive_memory_analysis.json")
    assert report["complete"] is False and report["end_reason"] == "service_died"
    assert report["service"]["exit"]["signal"] == "SIGKILL"
    assert any("SIGKILL" in reason for reason in report["assessment"]["reasons"])
    assert leftovers(str(out)) == []


@shared_run(seconds=8)
def no_load_run(work: Path) -> Run:
    port = free_port()
    return runner(work, "--baseline", "1", "--load-test", "5", "--cooldown", "1",
                  "--interval", "0.2", "--users", "2",
                  "--service-cmd", f"{sys.executable} {PROGRAMS / 'stops_listening.py'} "
                  f"{port}", "--url", f"http://127.0.0.1:{port}", "--fail-on", "warning")


def test_a_load_that_cannot_run_ends_the_run_as_failed(no_load_run):
    """The service answered its health check, then accepted no connection: no load was
    sent, so the run is not complete, exits 1, and claims no level."""
    assert no_load_run.returncode == 1, no_load_run.stdout + no_load_run.stderr
    report = no_load_run.report()
    assert report["complete"] is False and report["end_reason"] == "load_failed"
    assert report["assessment"]["level"] == "unknown"
    assert "cannot connect" in report["assessment"]["reasons"][0]
    assert "did not complete (load_failed)" in no_load_run.stdout
    assert leftovers(str(no_load_run.out)) == []


@shared_run(seconds=10)
def oom_run(work: Path) -> Run | None:
    if not can_make_cgroups():
        return None
    port = free_port()
    group = LimitedCgroup(limit_mb=120)
    try:
        command = (f"sh -c 'echo $$ > {group.path}/cgroup.procs && exec "
                   f"{demo_cmd(port, '--leak-kb', '1024')}'")
        return runner(work, "--baseline", "1", "--load-test", "20", "--cooldown", "2",
                      "--interval", "0.2", "--users", "4", "--service-cmd", command,
                      "--url", f"http://127.0.0.1:{port}")
    finally:
        group.remove()


@pytest.mark.skipif(not can_make_cgroups(), reason="needs root and a writable memory cgroup")
def test_an_oom_killed_service_is_reported(oom_run):
    assert oom_run.returncode == 1, oom_run.stdout + oom_run.stderr
    report = oom_run.report()
    assert report["end_reason"] == "service_died"
    assert report["service"]["exit"]["signal"] == "SIGKILL"
    assert report["service"]["exit"]["oom_killed"] is True
    assert any("out of memory" in reason.lower() for reason in report["assessment"]["reasons"])


class DemoByHand:
    """The demo started by a user in another terminal, on a free port, and ready."""

    def __enter__(self) -> DemoByHand:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "memory_analysis.demo",
                                         "--host", "127.0.0.1", "--port", str(self.port)],
                                        cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert "ready on" in self.process.stdout.readline()  # it says so once it listens
        return self

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@shared_run(seconds=8)
def url_only_run(work: Path) -> Run:
    with DemoByHand() as demo:
        return runner(work, "--baseline", "1", "--load-test", "2", "--cooldown", "1",
                      "--users", "2", "--url", demo.url)


def test_url_only_measures_load_without_memory(url_only_run):
    report = url_only_run.ok().report()
    assert report["service"]["mode"] == "url"
    assert report["memory"]["observed"] is False
    assert "not observed" in report["memory"]["reason"]
    assert report["load_test"]["requests"] > 0
    assert not (url_only_run.out / "memory_analysis.json").exists()
    # The demo's own requests, sent to the demo: no 404 to warn of, only a note.
    assert not any("404" in reason for reason in report["assessment"]["reasons"])
    assert "none with 404" in report["problems"][0]


def test_nothing_listening_where_the_service_should_be_fails_at_once(tmp_path):
    """A service given by its address alone runs elsewhere and is up already: a wrong
    port is said at once, not after the start-up timeout, and leaves no directory."""
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_script("memory_analysis_runner.py", "--url", url,
                        "--output-dir", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - started < 20  # the start-up timeout is 30 s
    assert result.stderr.startswith(f"memory_analysis_runner.py: error: cannot connect to "
                                    f"{url}: connection refused"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--pid", "1", "--service-cmd", "true", "--url", "http://127.0.0.1:1"],
     "--pid and --service-cmd exclude each other"),
    (["--pid", "1"], "--pid needs --url"),
    (["--pid", "99999999", "--url", "http://127.0.0.1:1"], "no process with PID 99999999"),
    (["--baseline", "0"], "--baseline must be greater than 0"),
    (["--load-test", "-5"], "--load-test must be greater than 0"),
    (["--cooldown", "-1"], "--cooldown must be greater than 0"),
    (["--users", "0"], "--users must be at least 1"),
    (["--users-steps", "5,x"], "--users-steps must be user counts"),
    (["--url", "ftp://example"], "--url must be an http:// or https:// URL"),
    (["--output-dir", "/proc/results"], "cannot create output directory /proc/results"),
    (["--catalog", "/nonexistent/catalog.json"], "/nonexistent/catalog.json"),
    (["--scenario", "/nonexistent/scenario.json"], "/nonexistent/scenario.json"),
    (["--rate", "0"], "--rate must be more than 0 requests per second"),
    (["--rate", "fast"], "'fast' is not a valid float"),
    (["--timeout", "-1"], "--timeout must be more than 0 seconds"),
    (["--think-time", "soon"], "--think-time must be SECONDS or MIN-MAX"),
    (["--workers", "many"], "--workers must be a number or 'auto'"),
    (["--target-memory", "lots"], "--target-memory must be a memory size"),
    (["--target-memory", "1G", "--plan", "render:starter"], "exclude each other"),
    (["--plan", "heroku:basic"], "--plan: no provider 'heroku'"),
    (["--plan", ""], "--plan must be PROVIDER:PLAN"),
    (["--plan", "render:huge"], "'render' has no plan 'huge'"),
    (["--cycles", "0"], "--cycles must be 1 or more"),
    (["--service-cmd", " ", "--url", "http://127.0.0.1:1"], "--service-cmd is empty"),
    (["--target-memory", "1K"], "--target-memory must be at least 1 MB"),
    (["--demo-hold-mb", "5", "--service-cmd", "true", "--url", "http://127.0.0.1:1"],
     "--demo-hold-mb is for the bundled demo service only"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    if "--output-dir" not in args:
        args = [*args, "--output-dir", str(tmp_path / "out")]
    result = run_script("memory_analysis_runner.py", *args, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("memory_analysis_runner.py: error: ")
    assert message in lines[0]
    assert not (tmp_path / "out").exists()  # a refused run leaves no trace


@pytest.mark.parametrize("args, message", [
    (["--interval", "0.005"], "--interval must be at least 0.01 seconds"),
    (["--url", "http://127.0.0.1:99999"], "--url has an invalid port"),
    (["--think-time", "2-1"], "--think-time must be MIN-MAX seconds"),
    (["--timeout", "0"], "--timeout must be more than 0 seconds"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--requests", "-1"], "--requests must be 0 (no limit) or more"),
    (["--rate", "-3"], "--rate must be more than 0 requests per second"),
])
def test_the_tools_own_checks_stop_a_run_before_the_service_starts(args, message, tmp_path):
    """The runner builds the monitor's and the load tester's configurations and calls
    their own checks: the tool's message, exit 2, and the service never started."""
    marker = tmp_path / "service-started"
    run_args = ["--service-cmd", f"touch {marker}; sleep 30", "--output-dir",
                str(tmp_path / "out"), *args]
    if "--url" not in args:
        run_args += ["--url", f"http://127.0.0.1:{free_port()}"]
    result = run_script("memory_analysis_runner.py", *run_args, timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_malformed_catalog_is_rejected(tmp_path):
    catalog = tmp_path / "plans.json"
    catalog.write_text("{not json")
    result = run_script("memory_analysis_runner.py", "--catalog", str(catalog),
                        "--output-dir", str(tmp_path / "out"), timeout=30)
    assert result.returncode == 2
    assert str(catalog) in result.stderr and len(result.stderr.strip().splitlines()) == 1


@shared_run(seconds=8)
def attached_run(work: Path) -> Run:
    with DemoByHand() as demo:
        run = runner(work, "--baseline", "1", "--load-test", "2", "--cooldown", "1",
                     "--interval", "0.2", "--users", "2", "--pid", str(demo.process.pid),
                     "--url", demo.url)
        run.extra = {"pid": demo.process.pid, "running_after": demo.process.poll() is None}
        return run


def test_attach_to_a_running_service_and_leave_it_running(attached_run):
    attached_run.ok()
    assert attached_run.extra["running_after"], "the runner must leave an attached service running"
    report = attached_run.report()
    assert report["service"]["mode"] == "pid"
    assert report["service"]["pid"] == attached_run.extra["pid"]
    assert report["memory"]["observed"] is True and report["memory"]["peak_mb"] > 0


@shared_run(seconds=20)
def steps_run(work: Path) -> Run:
    """The demo without a cache: a cache filling during the 6 s load (the default one
    through it, even one of 4 entries within its first second on a busy machine) leaves
    the leak verdict open on its shape, memory counts as growing within the steps, and
    the curve is not measured (nothing to price)."""
    port = free_port()
    # 4 s a step: at 2 s, the busy suite's once left the demo's warm-up still showing in
    # the steps (memory growing within them: the curve not measured, nothing priced).
    return runner(work, "--baseline", "1", "--load-test", "12", "--cooldown", "1",
                  "--interval", "0.2", "--users-steps", "1,2,4",
                  "--service-cmd", demo_cmd(port, "--cache-entries", "0"),
                  "--url", f"http://127.0.0.1:{port}")


def test_users_steps_fit_memory_against_users(steps_run):
    out = steps_run.ok().out
    report = load(out / "comprehensive_memory_analysis.json")
    steps = [load(out / f"load_step_{i}_{users}_users.json") for i, users in
             enumerate((1, 2, 4), start=1)]
    # The merged load file adds the steps up exactly.
    assert report["load_test"]["requests"] == sum(s["totals"]["requests"] for s in steps)
    merged = load(out / "load_test_during_analysis.json")
    assert merged["totals"]["requests"] == report["load_test"]["requests"]
    # The steps ran one after another: their durations add, and so does the timeline.
    assert merged["totals"]["duration_s"] == pytest.approx(
        sum(s["totals"]["duration_s"] for s in steps), abs=0.01)
    assert len(merged["timeline"]) == sum(len(s["timeline"]) for s in steps)
    tagged = {s["load_users"] for s in load(out / "memory_analysis.json")["samples"]
              if s["phase"] == "load"}
    assert {1, 2, 4} <= tagged
    scaling = report["recommendations"]["scaling"]
    assert [step["users"] for step in scaling["steps"]] == [1, 2, 4]
    assert "one load level" not in scaling["reason"]


def test_users_steps_price_the_peak_load_on_1_2_4_and_8_instances(steps_run):
    """The measured curve, priced from the bundled catalogs: each row's plan holds its
    memory for the service, costs the count times that plan's price, and the terminal and
    the HTML page show the table and the cheapest way."""
    run = steps_run.ok()
    report = run.report()
    needs = report["recommendations"]
    scaling = needs["scaling"]
    assert scaling["basis"] == "steps" and scaling["growth_shape"] != "not measured", scaling
    rows = scaling["instances"]
    assert [row["instances"] for row in rows] == [1, 2, 4, 8]
    prices = {(c["id"], p["name"]): p["monthly_usd"] for c in load_catalogs()
              for p in c["plans"] if "monthly_usd" in p}
    for row in rows:
        plan = row["plan"]
        assert plan["service_memory_mb"] >= row["per_instance_mb"]
        assert plan["monthly_usd"] == prices[(plan["provider"], plan["plan"])]
        assert row["monthly_cost"] == round(row["instances"] * plan["monthly_usd"], 2)
        assert row["total_mb"] == row["instances"] * row["per_instance_mb"]
    # One instance needs just the recommended memory; more never need more each.
    assert rows[0]["per_instance_mb"] == needs["recommended_memory_mb"]
    assert all(a["per_instance_mb"] >= b["per_instance_mb"]
               for a, b in zip(rows, rows[1:], strict=False))
    cheapest = min(rows, key=lambda r: (r["monthly_cost"], r["instances"]))
    assert scaling["cheapest_instances"] == cheapest["instances"]
    assert needs["cheapest"]["recommended"] == rows[0]["plan"]
    # Shown: the price column of the plans, the cheapest across providers, the instances.
    summary = run.stdout.partition("merging:")[2]
    assert "$/month" in summary and "Cheapest plan across providers" in summary
    assert "on 1, 2, 4 and 8 instances" in summary
    assert f"Scaling by cost: {scaling['cost_note']}" in summary
    page = (run.out / "memory_analysis_report.html").read_text()
    assert "Cheapest plan across providers" in page and "Scaling by cost:" in page
    assert f"<td>{usd(rows[-1]['monthly_cost'])}</td>" in page


def test_sigterm_during_baseline_stops_everything(tmp_path):
    out = tmp_path / "terminated"
    proc = subprocess.Popen([sys.executable, RUNNER, "--baseline", "30", "--load-test", "5",
                             "--cooldown", "5", "--interval", "0.2", "--output-dir", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stream = out / "memory_analysis.samples.jsonl"
    deadline = time.monotonic() + 30
    while not stream.exists() or len(stream.read_text().splitlines()) < 5:
        assert time.monotonic() < deadline, "the baseline never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stdout + stderr
    report = load(out / "comprehensive_memory_analysis.json")
    assert report["complete"] is False and report["end_reason"] == "interrupted"
    assert report["phases"]["baseline"]["samples"] >= 4
    assert report["phases"]["load"]["samples"] == 0
    assert not (out / "load_test_during_analysis.json").exists()
    assert leftovers(str(out)) == []


@shared_run(seconds=8)
def wrapper_run(work: Path) -> Run:
    """run_memory_analysis.sh from another directory, with nobody at the terminal."""
    out = work / "out"
    return command([str(ROOT / "run_memory_analysis.sh"), "--baseline", "1", "--load-test",
                    "2", "--cooldown", "1", "--users", "2", "--output-dir", str(out)], out,
                   cwd=work)


def test_run_memory_analysis_sh_runs_unattended(wrapper_run):
    wrapper_run.ok()
    assert f"Reports are in {wrapper_run.out}/" in wrapper_run.stdout
    assert wrapper_run.report()["complete"] is True
    # Nothing is written outside the output directory, where it was run from included.
    assert os.listdir(wrapper_run.out.parent) == [wrapper_run.out.name]


def test_nothing_outlives_a_killed_runner(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, RUNNER, "--baseline", "1", "--load-test", "30",
                             "--cooldown", "5", "--interval", "0.2", "--users", "2",
                             "--output-dir", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not leftovers(f"{out}/load_test_during_analysis.json"):
        assert time.monotonic() < deadline, "the load phase never started"
        time.sleep(0.1)
    demo = [p for p in psutil.Process(proc.pid).children()
            if "memory_analysis.demo" in " ".join(p.cmdline())]
    assert len(demo) == 1
    proc.kill()  # no chance to clean up: the kernel's parent-death signal must do it
    proc.wait()
    deadline = time.monotonic() + 15
    while leftovers(str(out)) or demo[0].is_running() and demo[0].status() != "zombie":
        assert time.monotonic() < deadline, leftovers(str(out))
        time.sleep(0.1)
    # The tools still wrote what they had, marked incomplete.
    assert load(out / "memory_analysis.json")["complete"] is False


def test_samples_between_two_steps_belong_to_the_load():
    from memory_analysis.runner.merge import phase_of
    from memory_analysis.runner.orchestrator import Timeline

    timeline = Timeline(load_start=10.0, load_end=40.0, steps=[
        {"users": 5, "cycle": 1, "start": 10.0, "end": 20.0},
        {"users": 10, "cycle": 1, "start": 20.5, "end": 30.0},
        {"users": 5, "cycle": 2, "start": 35.0, "end": 40.0}])
    assert phase_of(5.0, timeline) == ("baseline", 0, 1)
    assert phase_of(15.0, timeline) == ("load", 5, 1)
    assert phase_of(20.2, timeline) == ("load", 0, 1)       # the load tester restarting
    assert phase_of(32.0, timeline) == ("cooldown", 0, 1)   # after cycle 1's last step
    assert phase_of(36.0, timeline) == ("load", 5, 2)
    assert phase_of(45.0, timeline) == ("cooldown", 0, 2)
