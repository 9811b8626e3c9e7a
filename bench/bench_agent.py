#!/usr/bin/env python3
"""What the in-process agent costs the service it sits in.

1. Throughput: the demo service without the agent and with it (tracemalloc off), side by
   side: both demos at once, each under its own load tester (load_tester.py --users 10
   --repeat for --seconds), so the machine's ups and downs hit both, and the geometric
   mean of the rounds' throughput ratios is the cost (goal: within 5 %; the demo started
   second does worse, agent or not, so the order alternates and --rounds should be
   even); then both at a fixed rate each, for their CPU per request. For comparison,
   rounds one demo at a time, alternating (saturated, and at --rate), whose ratios the
   host's drift blurs.
2. tracemalloc on (one frame, as the runner's --tracemalloc): throughput and memory
   against the same demo without the agent.
3. The agent's own memory: RSS of an idle interpreter with and without it (the modules
   it imports, its thread), and what tracemalloc traces to the agent's own files in the
   demo under load (goal: under 5 MB).

Usage, from the repository root after ./run_tests.sh made .venv:

    .venv/bin/python bench/bench_agent.py --rounds 6 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from memory_analysis.agent.control import agent_env  # noqa: E402
from memory_analysis.childenv import child_env  # noqa: E402
from memory_analysis.runner.service import free_port  # noqa: E402


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _demo(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "memory_analysis.demo", "--host",
                                "127.0.0.1", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=1).close()
            return process, url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _round(env: dict[str, str], seconds: float, rate: float | None = None) -> dict[str, float]:
    """One demo under load: its throughput, p99, RSS, and the CPU it spent per request.
    With ``rate``, an open load at that many requests/s (the CPU per request is then
    measured on the same work, whatever else the machine is doing)."""
    process, url = _demo(env)
    try:
        cpu_before = _cpu_s(process.pid)
        with tempfile.TemporaryDirectory() as directory:
            output = Path(directory) / "load.json"
            load = ["--users", "10", "--repeat"] if rate is None else \
                ["--users", "50", "--repeat", "--rate", f"{rate:g}"]
            subprocess.run([sys.executable, str(ROOT / "load_tester.py"), "--url", url, *load,
                            "--duration", f"{seconds:g}", "--quiet", "--output", str(output)],
                           check=True, stdout=subprocess.DEVNULL, env=child_env())
            report = json.loads(output.read_text())
        requests = report["totals"]["requests"]
        return {"rps": report["totals"]["rps"], "p99_ms": report["latency_ms"]["p99"],
                "rss_mb": round(_rss_mb(process.pid), 1),
                "cpu_us_per_request": round((_cpu_s(process.pid) - cpu_before) * 1e6
                                            / max(requests, 1), 1)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def _side_by_side(envs: dict[str, dict[str, str]], seconds: float,
                  rate: float | None = None) -> dict[str, dict[str, float]]:
    """Two demos under the same load at the same time, one load tester each: whatever
    else the machine does, it does to both. Saturated (``rate`` None), their throughput
    ratio is the cost; at a fixed ``rate``, their CPU per request."""
    demos = {name: _demo(env) for name, env in envs.items()}  # in the order given
    load = ["--users", "10", "--repeat"] if rate is None else \
        ["--users", "50", "--repeat", "--rate", f"{rate:g}"]
    try:
        with tempfile.TemporaryDirectory() as directory:
            loads = {}
            cpu_before = {name: _cpu_s(process.pid) for name, (process, _) in demos.items()}
            for name, (_, url) in demos.items():
                output = Path(directory) / f"{name}.json"
                loads[name] = (output, subprocess.Popen(
                    [sys.executable, str(ROOT / "load_tester.py"), "--url", url, *load,
                     "--duration", f"{seconds:g}", "--quiet", "--output", str(output)],
                    stdout=subprocess.DEVNULL, env=child_env()))
            for _, process in loads.values():
                process.wait(timeout=seconds + 120)
            out = {}
            for name, (output, _) in loads.items():
                totals = json.loads(output.read_text())["totals"]
                cpu = _cpu_s(demos[name][0].pid) - cpu_before[name]
                out[name] = {"rps": totals["rps"], "cpu_us_per_request":
                             round(cpu * 1e6 / max(totals["requests"], 1), 1)}
            return out
    finally:
        for process, _ in demos.values():
            process.terminate()
            process.wait(timeout=30)


def _traced_figures(env: dict[str, str], seconds: float, directory: Path) -> dict[str, float]:
    """From the agent's last report in the demo after a load with tracemalloc on: what
    tracemalloc traced to the agent's own files (its memory), the traced total, and how
    long the last snapshot took."""
    _round(env, seconds)
    figures = {"agent_traced_mb": 0.0, "traced_mb": 0.0, "snapshot_took_s": 0.0,
               "agent_cpu_s": 0.0}
    for path in directory.glob("*.json"):
        if path.stem.isdigit():
            traced = (json.loads(path.read_text()).get("tracemalloc") or {})
            components = traced.get("components_mb") or {}
            figures["agent_traced_mb"] = max(figures["agent_traced_mb"],
                                             components.get("memory analysis agent", 0.0))
            figures["traced_mb"] = max(figures["traced_mb"], sum(components.values()))
            figures["snapshot_took_s"] = max(figures["snapshot_took_s"],
                                             traced.get("took_s") or 0.0)
            figures["agent_cpu_s"] = max(figures["agent_cpu_s"],
                                         json.loads(path.read_text()).get("agent_cpu_s") or 0.0)
    return figures


def _idle_rss(env: dict[str, str]) -> float:
    code = "import time, sys; time.sleep(1.5); print(open('/proc/self/status').read())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.split("VmRSS:")[1].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=600.0,
                        help="requests/s of the fixed-rate rounds")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    plain = child_env()
    with_agent = agent_env(child_env(), work / "agent", 1.0)
    (work / "agent").mkdir()
    traced_dir = work / "traced"
    traced_dir.mkdir()
    traced = agent_env(child_env(), traced_dir, 1.0)
    traced["MEMORY_ANALYSIS_AGENT_TRACEMALLOC"] = "1"

    rounds: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
    for index in range(args.rounds):
        order = ("without", "with") if index % 2 == 0 else ("with", "without")
        for name in order:
            rounds[name].append(_round(plain if name == "without" else with_agent,
                                       args.seconds))
    median = {name: statistics.median(r["rps"] for r in runs) for name, runs in rounds.items()}
    # Both at once, each with its own load tester: the machine's ups and downs hit both.
    # The demo started second (and its load tester) does measurably worse, agent or not
    # (an A/A run: 25 % more CPU per request): the order alternates round by round.
    def both(index: int) -> dict[str, dict[str, str]]:
        return ({"without": plain, "with": with_agent} if index % 2 == 0
                else {"with": with_agent, "without": plain})

    pairs = [_side_by_side(both(index), args.seconds) for index in range(args.rounds)]
    ratios = [pair["with"]["rps"] / pair["without"]["rps"] for pair in pairs]
    paced_pairs = [_side_by_side(both(index), args.seconds, rate=args.rate / 2)
                   for index in range(args.rounds)]
    cpu_ratios = [pair["with"]["cpu_us_per_request"] / pair["without"]["cpu_us_per_request"]
                  for pair in paced_pairs]
    # The same work at a fixed rate: CPU per request is what bounds a CPU-bound
    # service's throughput, and it is far steadier than a saturation run on a busy host.
    paced: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
    for index in range(args.rounds):
        order = ("without", "with") if index % 2 == 0 else ("with", "without")
        for name in order:
            paced[name].append(_round(plain if name == "without" else with_agent,
                                      args.seconds, rate=args.rate))
    cpu = {name: statistics.median(r["cpu_us_per_request"] for r in runs)
           for name, runs in paced.items()}
    tracing = [_round(plain, args.seconds), _round(traced, args.seconds)]

    idle = {"without": [], "with": []}
    for _ in range(3):
        idle["without"].append(_idle_rss({**os.environ, **plain}))
        idle["with"].append(_idle_rss(with_agent))
    result = {
        "throughput": {"rounds": rounds, "median_rps": median,
                       "cost_percent": round((1 - median["with"] / median["without"]) * 100, 2)},
        # Geometric means: with as many rounds in each order, the order's effect cancels.
        "side_by_side": {"rounds": pairs, "ratios": [round(r, 4) for r in ratios],
                         "mean_ratio": round(statistics.geometric_mean(ratios), 4),
                         "cost_percent": round((1 - statistics.geometric_mean(ratios)) * 100,
                                               2)},
        "side_by_side_cpu": {"rate_each": args.rate / 2, "rounds": paced_pairs,
                             "ratios": [round(r, 4) for r in cpu_ratios],
                             "mean_ratio": round(statistics.geometric_mean(cpu_ratios), 4),
                             "cost_percent": round((statistics.geometric_mean(cpu_ratios) - 1)
                                                   * 100, 2)},
        "cpu_per_request": {"rate": args.rate, "rounds": paced, "median_us": cpu,
                            "cost_percent": round((cpu["with"] / cpu["without"] - 1) * 100, 2)},
        "tracemalloc": {"without_agent": tracing[0], "with_tracemalloc": tracing[1],
                        "throughput_percent_of_untraced":
                            round(tracing[1]["rps"] * 100 / tracing[0]["rps"], 1)},
        "agent_memory": {
            "idle_rss_without_mb": round(statistics.median(idle["without"]), 2),
            "idle_rss_with_mb": round(statistics.median(idle["with"]), 2),
            "idle_rss_added_mb": round(statistics.median(idle["with"])
                                       - statistics.median(idle["without"]), 2),
        },
        "after_a_traced_load": _traced_figures(traced, args.seconds, traced_dir),
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "agent.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
