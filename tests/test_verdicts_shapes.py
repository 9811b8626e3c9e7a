"""Verdicts on real services whose memory has a shape the suite was never tuned on: a
cache filling on a long-tailed key distribution (growth like the logarithm of the
requests: healthy; like their square root: a leak), a sawtooth slower than the load, a
table loaded once, a Node.js service leaking on one route (started by the runner, and
attached by PID), and services on a machine whose two cores are kept busy.

Each service is one of the recorded traces' (tests/programs, bench/traces/README.md),
with its time scale shortened to the suite's 24 s load: the sawtooth's period and the
step's delay are a tenth of the recorded ones; the log cache runs as recorded (its
growth follows the requests, so the shape is the same, only shorter), the square-root
cache for the default two minutes, paced, with larger entries."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from shared_runs import PROGRAMS, VERDICT, Run, free_port, runner, shared_run

from memory_analysis.runner.config import RunnerConfig


def wait_for_port(port: int, within_s: float) -> None:
    """Until something accepts connections on the port (the service is up)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def service(port: int, program: str, env: str = "",
            scenario: str = "page_scenario.json") -> list[str]:
    runtime = "node" if program.endswith(".js") else sys.executable
    return ["--service-cmd", f"{env} {runtime} {program} {port}".strip(),
            "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
            "--scenario", str(PROGRAMS / scenario)]


def load_window_s() -> float:
    return 24.0


DEFAULT_LOAD_S = RunnerConfig().load_test




@shared_run(seconds=45, paced=True)
def log_cache_run(work: Path) -> Run:
    # Its distinct keys grow as the logarithm of the requests at any rate: paced at 1,000
    # a second, the run costs a quarter of a full-speed one's CPU.
    return runner(work, *VERDICT, "--rate", "1000",
                  *service(free_port(), "cache_app.py", "CACHE_SHAPE=log"))


def test_a_cache_growing_like_the_log_of_the_requests_is_not_a_leak(log_cache_run):
    """In the suite's 24 s load the cache is still filling fast: "no leak" when its
    slowing shows clearly enough, else too short to tell; never a leak, never critical.
    (In the default run, bench/RESULTS.md: "no leak" quiet, too short to tell on a busy
    machine, where a leak of 1 MB/min beside it could not be ruled out.)"""
    report = log_cache_run.ok().report()
    leak = report["memory"]["leak"]
    assert leak["verdict"] in ("no leak", "too short to tell"), leak["reason"]
    if leak["shape"] == "linear":
        # Its first 24 s can look straight: then a slowing curve is named as what fits
        # nearly as well, and the run is too short to tell them apart.
        assert leak["verdict"] == "too short to tell", leak
        assert "a curve that slows down" in leak["reason"], leak["reason"]
    else:
        assert leak["shape"] in ("slowing", "levels off"), leak
    if leak["verdict"] == "no leak":
        assert leak["projected_growth_ci_mb"][1] <= leak["headroom_mb"]
    assert report["assessment"]["level"] != "critical"


# A square root over two minutes is nearly a logarithm and a line: in one clean-clone CI
# run the paced two-minute load was "too short to tell" (4.4 independent samples, the
# logarithm 5.9 BIC behind, not ruled out) and asked for about 4 min. The test runs the
# load the engine asked for, at a steady 300 requests a second (the curve in time is the
# same square root at any rate; paced, the run costs a third of a core): measured, 240 s
# put the logarithm 29.8 BIC behind and the leak's lower bound at 6 times the headroom
# (this seed; other seeds 6.3-6.9 behind, 1.7-3.4 times). Entries of 128 KB, not the
# recorded trace's 32, so the growth stands well above the service's allocation noise.
SQRT_PACED = [*VERDICT[:3], "240", *VERDICT[4:], "--rate", "300"]


@shared_run(seconds=260, paced=True)
def sqrt_cache_run(work: Path) -> Run:
    return runner(work, *SQRT_PACED, *service(free_port(), "cache_app.py",
                                              "CACHE_SHAPE=sqrt CACHE_KB=128"), timeout=360)


def test_a_cache_growing_like_the_square_root_of_the_requests_is_a_leak(sqrt_cache_run):
    report = sqrt_cache_run.ok().report()
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak", leak["reason"]
    assert leak["projected_growth_ci_mb"][0] > leak["headroom_mb"]
    assert report["assessment"]["level"] == "critical"


# The sawtooth's release and the step follow the clock, not the requests: paced at 1,000
# requests a second, their runs cost a fraction of a full-speed one's CPU and go beside
# the others (the suite's time is the CPU its runs share).
PACED_1000 = ["--rate", "1000"]


@shared_run(seconds=45, paced=True)
def sawtooth_run(work: Path) -> Run:
    # Released every 10 s: two or three teeth in the 24 s load, as a 60 s period gives
    # in the default two-minute load; 1 KB kept a request builds 10 MB a tooth.
    return runner(work, *VERDICT, *PACED_1000,
                  *service(free_port(), "sawtooth_app.py", "PERIOD_S=10 SAW_BYTES=1024"))


@shared_run(seconds=45, paced=True)
def step_run(work: Path) -> Run:
    # 40 MB loaded once, 6 s into the load, then flat.
    return runner(work, *VERDICT, *PACED_1000,
                  *service(free_port(), "step_app.py", "STEP_AFTER_S=6"))


def _structure_is_not_a_leak(run: Run) -> dict:
    leak = run.ok().report()["memory"]["leak"]
    assert leak["verdict"] in ("no leak", "too short to tell"), leak["reason"]
    if leak["verdict"] == "too short to tell":
        # What would tell comes from the structure (a few more teeth, time after the
        # step): a few times the load. Or, once the structure is settled, from the noise
        # of what is left, which the suite's shortened time scale does not shorten: the
        # minutes a default two-minute run would ask for, never the hours of old.
        noise_decides = "could hide in this run" in leak["reason"]
        most = 5 * DEFAULT_LOAD_S if noise_decides else 5 * load_window_s()
        assert leak["run_needed_s"] <= most, leak["reason"]
    return leak


def test_a_sawtooth_slower_than_the_load_is_no_leak_and_asks_for_minutes(sawtooth_run):
    leak = _structure_is_not_a_leak(sawtooth_run)
    assert leak["shape"] == "periodic" or leak.get("periodic_release"), leak


def test_a_table_loaded_once_is_no_leak_and_asks_for_minutes(step_run):
    leak = _structure_is_not_a_leak(step_run)
    # The step is recognised; what memory did besides it is judged.
    assert leak["shape"] == "step" or 35 < leak["step"]["rise_mb"] < 45, leak


# Three times the suite's usual load for the Node.js runs: beside the other runs, V8's
# chunked growth left 48 s with 1 independent look about the line in one suite run, and
# a curve that slows nearly as good a fit in another.
NODE_LOAD = [*VERDICT[:3], "72", *VERDICT[4:]]


@shared_run(seconds=95, paced=True)
def node_run(work: Path) -> Run:
    """node_app.js keeping memory on /track (a fifth of the requests), started by the
    runner through a shell that stays its parent (a compound --service-cmd): V8's heap
    wanders by a few MB on a scale of seconds, so the leak is made large beside it, and
    the load is three times the suite's usual 24 s: V8 grows its heap in chunks, which
    leave few independent samples about a line in 24 s (in bench/RESULTS.md's busy
    repeats, 3 of 20 quick runs were too short to tell). Judged against the requests served, not
    the clock: it needs no quiet. Paced at 400 requests a second, it keeps 160 KB a
    /track request (750 MB/min): at 40 KB (190 MB/min) V8's chunked growth left one run
    of three with 3 independent looks about the line (too short to tell, a warning); at
    160 KB, 16-29 in three of three."""
    port = free_port()
    return runner(work, *NODE_LOAD, "--rate", "400", "--service-cmd",
                  f"LEAK_KB=160 node node_app.js {port} || exit 1",
                  "--service-cwd", str(PROGRAMS), "--url", f"http://127.0.0.1:{port}",
                  "--scenario", str(PROGRAMS / "node_scenario.json"))


# What only a CPython service can use: advice naming it is wrong for any other.
PYTHON_ONLY = ("tracemalloc", "memray", "pymalloc", "MALLOC_ARENA_MAX", "PYTHONPATH",
               "MEMORY_ANALYSIS_AGENT")


def test_a_leaking_node_service_started_by_the_runner_gets_node_advice(node_run):
    run = node_run.ok()
    report = run.report()
    leak = report["memory"]["leak"]
    assert leak["verdict"] == "leak", leak["reason"]
    assert report["assessment"]["level"] == "critical"
    # Told by the service, not by the shell the runner started it through.
    assert report["service"]["runtime"] == "node"
    assert report["service"]["runtime_process"]["executable"] == "node"
    monitor = run.report("memory_analysis.json")
    assert monitor["target"]["runtime"] == "node" and monitor["target"]["is_python"] is False
    roles = sorted(p["role"] for p in monitor["samples"][-1]["process"]["processes"].values())
    assert roles == ["service", "wrapper"]
    suggestions = report["recommendations"]["suggestions"]
    said = suggestions + report["problems"] + [run.stdout]
    for words in PYTHON_ONLY:
        assert not any(words in text for text in said), (words, said)
    assert any("--heapsnapshot-signal=SIGUSR2" in s for s in suggestions), suggestions


@shared_run(seconds=95, paced=True)
def node_attached_run(work: Path) -> Run:
    """The same service started by hand and attached with --pid, paced as the one above."""
    port = free_port()
    node = subprocess.Popen(["node", str(PROGRAMS / "node_app.js"), str(port)],
                            env={"PATH": "/usr/bin:/bin", "LEAK_KB": "160"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 20.0)
        return runner(work, *NODE_LOAD, "--rate", "400", "--pid", str(node.pid),
                      "--url", f"http://127.0.0.1:{port}",
                      "--scenario", str(PROGRAMS / "node_scenario.json"))
    finally:
        node.kill()
        node.wait()


def test_a_node_service_leaking_on_one_route_attached_by_pid_is_a_leak(node_attached_run):
    run = node_attached_run.ok()
    report = run.report()
    leak = report["memory"]["leak"]
    # Alone it is a leak (three runs of three). Beside the suite's other runs, V8's
    # growth bowed once each in two suite runs of four: one independent look about a
    # straight 740 MB/min, where a curve that stops fits nearly as well, and the
    # verdict is too short to tell, but warns that the headroom lasts a minute or two.
    # Never SAFE, never "no leak".
    if leak["verdict"] != "leak":
        assert leak["verdict"] == "too short to tell", leak["reason"]
        assert leak["headroom_lasts_h"] < 1.0, leak
        assert report["assessment"]["level"] == "warning"
    else:
        assert report["assessment"]["level"] == "critical"
    assert report["service"]["runtime"] == "node"
    said = report["recommendations"]["suggestions"] + report["problems"] + [run.stdout]
    for words in PYTHON_ONLY:
        assert not any(words in text for text in said), (words, said)


def test_on_a_busy_machine_a_leak_is_still_a_leak(busy_machine_runs):
    leak = busy_machine_runs["leaky"].ok().report()["memory"]["leak"]
    assert leak["verdict"] == "leak", leak["reason"]


def test_on_a_busy_machine_a_healthy_service_is_not_called_a_leak(busy_machine_runs):
    report = busy_machine_runs["healthy"].ok().report()
    leak = report["memory"]["leak"]
    assert leak["verdict"] in ("no leak", "too short to tell"), leak["reason"]
    assert report["assessment"]["level"] != "critical"
