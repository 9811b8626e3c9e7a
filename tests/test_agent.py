"""The agent inside a Python service: loaded with no change to the service's code, it
reports garbage collection under load, each forked worker under its own PID, memory by
component (a module holding a known amount is named with it), and a report path it
cannot write leaves the service running as usual."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PROGRAMS, ROOT, run_script
from shared_runs import SHORT, Run, command, runner, shared_run

from memory_analysis.agent import INJECT_DIR
from memory_analysis.agent.control import agent_env, read_component_map
from memory_analysis.errors import BadInput
from memory_analysis.runner.service import free_port

BALLAST_MB = 20
WORKERS = 2


def report_of(out: Path) -> dict:
    return json.loads((out / "comprehensive_memory_analysis.json").read_text())


def wait_until_answering(url: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, "the service exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@shared_run(seconds=14)
def agent_run(work: Path) -> tuple[Path, Run]:
    """One runner analysis of a pre-forking service (master + 2 workers, each holding
    20 MB in agentapp.ballast) under a load of reference cycles, with tracemalloc and a
    component map."""
    port = free_port()
    run = runner(work, *SHORT, "--service-cmd",
                 f"{sys.executable} -m agentapp.server {port} --workers {WORKERS} "
                 f"--ballast-mb {BALLAST_MB}", "--service-cwd", str(PROGRAMS),
                 "--url", f"http://127.0.0.1:{port}",
                 "--scenario", str(PROGRAMS / "agent_scenario.json"),
                 "--tracemalloc", "--components", str(PROGRAMS / "agent_components.yaml"))
    return run.out, run.ok()


def test_gc_figures_come_from_inside_the_service_and_change_under_load(agent_run):
    out, result = agent_run
    samples = json.loads((out / "memory_analysis.json").read_text())["samples"]
    reporting = [s for s in samples if s["python"]]
    assert reporting, "no sample holds the agent's figures"
    first, last = reporting[0]["python"], reporting[-1]["python"]
    common = set(first) & set(last)
    assert common
    grew = sum(sum(last[pid]["gc"]["collections"]) - sum(first[pid]["gc"]["collections"])
               for pid in common)
    assert grew > 0
    gc = report_of(out)["breakdown"]["gc"]
    assert set(gc) == {"baseline", "load", "cooldown"}
    # Each request leaves 2,000 objects in a cycle: the load is when the collector works.
    assert sum(gc["load"]["collections"]) > sum(gc["baseline"]["collections"])
    assert gc["load"]["collected"][0] + gc["load"]["collected"][1] + \
        gc["load"]["collected"][2] >= 2000
    assert gc["load"]["pause_total_s"] > 0 and gc["load"]["pause_longest_s"] > 0
    assert gc["load"]["uncollectable"] == 0
    assert "Garbage collection" in result.stdout


def test_each_forked_worker_reports_under_its_own_pid_and_is_named(agent_run):
    out, result = agent_run
    samples = json.loads((out / "memory_analysis.json").read_text())["samples"]
    last = samples[-1]
    processes = last["process"]["processes"]
    workers = [pid for pid, p in processes.items() if p["role"] == "worker"]
    assert len(workers) == WORKERS
    assert set(workers) <= set(last["python"]), "a worker has no figures of its own"
    master = next(pid for pid, p in processes.items() if p["role"] == "master")
    assert master in last["python"]
    named = report_of(out)["breakdown"]["processes"]["processes"]
    assert {str(p["pid"]) for p in named if p["role"] == "worker"} == set(workers)
    for row in named:
        assert row["peak_mb"] >= row["baseline_mb"] > 0
    for pid in workers:
        assert pid in result.stdout  # the per-process table names each worker


def test_a_module_holding_a_known_amount_is_named_with_it(agent_run):
    out, result = agent_run
    components = report_of(out)["breakdown"]["components"]
    assert components["available"] is True
    rows = {row["name"]: row for row in components["components"]}
    expected = BALLAST_MB * WORKERS
    for moment in ("baseline_end", "peak", "cooldown_end"):
        assert abs(rows["ballast"][f"{moment}_mb"] - expected) <= 0.1 * expected, rows["ballast"]
    assert "Python runtime" in rows and rows["Python runtime"]["peak_mb"] > 0
    assert 0 < rows["ballast"]["peak_share_percent"] < 100
    assert "Memory by component" in result.stdout


@shared_run(seconds=16)
def traced_demo_run(work: Path) -> Run:
    """The main job on the demo with --tracemalloc, from another directory."""
    out = work / "demo"
    return command([str(ROOT / "run_memory_analysis.sh"), *SHORT, "--tracemalloc",
                    "--output-dir", str(out)], out, cwd=work)


def test_the_demos_seed_components_in_the_main_jobs_report(traced_demo_run):
    result = traced_demo_run.ok()
    rows = {row["name"]: row for row in result.report()["breakdown"]["components"]["components"]}
    for name in ("web application", "data service", "analysis service", "cache",
                 "Python runtime"):
        assert name in rows, sorted(rows)
    # The load fills the cache with bars (made by the data service) and indicators
    # (made by the analysis service).
    assert rows["data service"]["peak_mb"] > rows["data service"]["baseline_end_mb"] + 1
    assert rows["analysis service"]["peak_mb"] > rows["analysis service"]["baseline_end_mb"] + 1
    for name in ("web application", "data service", "analysis service"):
        assert name in result.stdout


def test_an_unwritable_report_path_leaves_the_service_running(tmp_path):
    port = free_port()
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    env = agent_env(dict(os.environ), blocked / "agent", 0.2)
    env["PYTHONPATH"] += os.pathsep + str(PROGRAMS)
    service = subprocess.Popen([sys.executable, "-m", "agentapp.server", str(port),
                                "--workers", "1"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/cycle", service)
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/cycle", timeout=5) as answer:
                assert answer.status == 200
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = service.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if line.strip()]
    # One line from each process that tried (the master; its worker inherits "off").
    assert lines and all(line.startswith("memory-analysis agent: cannot report to")
                         for line in lines), stderr
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr


def test_the_monitor_reads_an_agent_started_by_hand(tmp_path):
    """The manual's recipe for --pid: start the service with the agent's loader on
    PYTHONPATH and MEMORY_ANALYSIS_AGENT set, then point the monitor at the directory."""
    port = free_port()
    agent_dir = tmp_path / "agent"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([INJECT_DIR, str(PROGRAMS)]),
           "MEMORY_ANALYSIS_AGENT": str(agent_dir)}
    service = subprocess.Popen([sys.executable, "-m", "agentapp.server", str(port),
                                "--workers", "1"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None and service.stdout.readline().strip() == "up"
        output = tmp_path / "memory.json"
        result = run_script("memory_monitor.py", "--pid", str(service.pid), "--duration", "2",
                            "--interval", "0.25", "--agent-dir", str(agent_dir), "--output",
                            str(output), "--tracemalloc", "--quiet", timeout=60)
        assert result.returncode == 0, result.stderr
        # The tracing the monitor asked for stops with it: the service is not left slow.
        reports = [p for p in agent_dir.glob("*.json") if p.stem.isdigit()]
        assert reports
        deadline = time.monotonic() + 30
        while any(json.loads(p.read_text())["tracemalloc"] for p in reports):
            assert time.monotonic() < deadline, "tracemalloc still on after the monitor"
            time.sleep(0.1)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=30)
    samples = json.loads(output.read_text())["samples"]
    assert samples[-1]["python"] is not None
    assert any((f.get("tracemalloc") or {}).get("current_mb")
               for s in samples for f in (s["python"] or {}).values())
    figures = next(iter(samples[-1]["python"].values()))
    assert len(figures["gc"]["collections"]) == 3 and figures["python"]
    assert any("objects" in f and f["objects"]["top"]
               for s in samples for f in (s["python"] or {}).values())


def _interpreters() -> list[str]:
    """This interpreter and any other CPython 3.8+ on the machine (pyenv's)."""
    found = [sys.executable]
    versions = Path.home() / ".pyenv" / "versions"
    for python in sorted(versions.glob("3.*/bin/python3")) if versions.is_dir() else []:
        minor = int(python.parent.parent.name.split(".")[1])
        if minor >= 8:
            found.append(str(python))
    return found


# The child waits until its agent has reported what it holds (up to 20 s; it reports
# every 0.1 s), then leaves without exit handlers: a fixed sleep let it go before its
# first report on a busy machine. The parent's agent reports at its exit.
FORK_AND_ALLOCATE = """
import json, os, time
held = [bytearray(1 << 20) for _ in range(4)]
def reported():
    path = os.path.join(os.environ["MEMORY_ANALYSIS_AGENT"], "%d.json" % os.getpid())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(path) as handle:
                report = json.load(handle)
            if len(report["gc"]["collections"]) >= 3 and (
                    report["tracemalloc"]["current_mb"] >= 4):
                return
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.05)
pid = os.fork()
if pid == 0:
    reported()
    os._exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.parametrize("python", _interpreters())
def test_the_agent_runs_on_the_services_own_interpreter(python, tmp_path):
    """It runs in the service's interpreter and environment, which have none of the
    suite's dependencies: any CPython from 3.8 loads it (standard library only) and a
    forked child reports under its own PID."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": INJECT_DIR,
           "MEMORY_ANALYSIS_AGENT": str(tmp_path), "MEMORY_ANALYSIS_AGENT_INTERVAL": "0.1",
           "MEMORY_ANALYSIS_AGENT_TRACEMALLOC": "1"}
    result = subprocess.run([python, "-c", FORK_AND_ALLOCATE], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    reports = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert len(reports) == 2, "parent and forked child each report"
    child = next(r for r in reports if r["ppid"] != os.getpid())
    parent = next(r for r in reports if r is not child)
    assert child["ppid"] == parent["pid"]
    for report in reports:
        assert len(report["gc"]["collections"]) >= 3
        assert report["tracemalloc"]["current_mb"] >= 4
    assert not list(tmp_path.glob("agent-*.log")), "the agent logged an error"


def test_the_services_own_sitecustomize_still_runs(tmp_path):
    """A virtual environment or distribution may have a sitecustomize of its own: it
    runs after the agent's, as it would have without it; and if it fails, Python's own
    message says so, as site would."""
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("import builtins\nbuiltins.OWN_SITE = True\n")
    env = {"PATH": os.environ.get("PATH", ""), "MEMORY_ANALYSIS_AGENT": str(tmp_path / "a"),
           "PYTHONPATH": os.pathsep.join([INJECT_DIR, str(own)])}
    result = subprocess.run([sys.executable, "-c", "import sys; print(OWN_SITE, "
                             "'_memory_analysis_agent' in sys.modules)"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"] and result.stderr == ""
    (own / "sitecustomize.py").write_text("import no_such_module_here\n")
    result = subprocess.run([sys.executable, "-c", "print('ran')"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ran"
    assert "Error in sitecustomize" in result.stderr and "no_such_module_here" in result.stderr


def test_a_component_map_that_is_not_one_is_refused(tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(BadInput, match="must map component names"):
        read_component_map(bad)
    result = run_script("memory_analysis_runner.py", "--components", str(bad),
                        "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--components" in result.stderr
    assert not (tmp_path / "out").exists()
    result = run_script("memory_monitor.py", "--tracemalloc", "--duration", "1",
                        "--output", str(tmp_path / "m.json"))
    assert result.returncode == 2 and "needs --agent-dir" in result.stderr
    result = run_script("memory_monitor.py", "--agent-dir", str(tmp_path), "--duration", "1",
                        "--output", str(tmp_path / "m.json"))
    assert result.returncode == 2 and "--agent-dir needs --pid" in result.stderr


def test_a_report_left_by_an_earlier_process_with_the_same_pid_is_not_read(tmp_path):
    """PIDs are reused: a report whose process started at another time is another
    process's, and the monitor does not pass it off as this one's."""
    from memory_analysis.monitor import procfs
    from memory_analysis.monitor.python_figures import AgentReader

    pid = os.getpid()
    ticks = procfs.read_stat(pid).start_ticks
    report = {"pid": pid, "seq": 1, "time": time.time(), "python": "3.11.7",
              "gc": {"collections": [1, 0, 0], "windows": [[1, 0.001]]}, "objects": None,
              "tracemalloc": None}
    path = tmp_path / f"{pid}.json"
    path.write_text(json.dumps({**report, "start_ticks": ticks - 100}))
    assert AgentReader(tmp_path).read([pid]) is None
    path.write_text(json.dumps({**report, "start_ticks": ticks}))
    figures = AgentReader(tmp_path).read([pid])
    assert figures is not None and figures[str(pid)]["gc"]["pause_max_s"] == 0.001
