#!/usr/bin/env python3
"""What the in-process agent costs the service it sits in.

1. Throughput: the demo service without the agent and with it (tracemalloc off), side by
   side: rounds alternate between the two, each a fresh demo under the same load
   (load_tester.py --users 10 --repeat for --seconds), and the ratio of the medians is
   the cost (goal: within 5 %).
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


def _round(env: dict[str, str], seconds: float) -> dict[str, float]:
    process, url = _demo(env)
    try:
        with tempfile.TemporaryDirectory() as directory:
            output = Path(directory) / "load.json"
            subprocess.run([sys.executable, str(ROOT / "load_tester.py"), "--url", url,
                            "--users", "10", "--repeat", "--duration", f"{seconds:g}",
                            "--quiet", "--output", str(output)], check=True,
                           stdout=subprocess.DEVNULL, env=child_env())
            report = json.loads(output.read_text())
        return {"rps": report["totals"]["rps"], "p99_ms": report["latency_ms"]["p99"],
                "rss_mb": round(_rss_mb(process.pid), 1)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def _agent_traced_mb(env: dict[str, str], seconds: float, directory: Path) -> float:
    """The most memory tracemalloc traced to the agent's own files in the demo under
    load, over the agent's snapshots."""
    _round(env, seconds)
    most = 0.0
    for path in directory.glob("*.json"):
        if path.stem.isdigit():
            traced = (json.loads(path.read_text()).get("tracemalloc") or {})
            most = max(most, (traced.get("components_mb") or {}).get("memory analysis agent", 0))
    return most


def _idle_rss(env: dict[str, str]) -> float:
    code = "import time, sys; time.sleep(1.5); print(open('/proc/self/status').read())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.split("VmRSS:")[1].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
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
    tracing = [_round(plain, args.seconds), _round(traced, args.seconds)]

    idle = {"without": [], "with": []}
    for _ in range(3):
        idle["without"].append(_idle_rss({**os.environ, **plain}))
        idle["with"].append(_idle_rss(with_agent))
    result = {
        "throughput": {"rounds": rounds, "median_rps": median,
                       "cost_percent": round((1 - median["with"] / median["without"]) * 100, 2)},
        "tracemalloc": {"without_agent": tracing[0], "with_tracemalloc": tracing[1],
                        "throughput_percent_of_untraced":
                            round(tracing[1]["rps"] * 100 / tracing[0]["rps"], 1)},
        "agent_memory": {
            "idle_rss_without_mb": round(statistics.median(idle["without"]), 2),
            "idle_rss_with_mb": round(statistics.median(idle["with"]), 2),
            "idle_rss_added_mb": round(statistics.median(idle["with"])
                                       - statistics.median(idle["without"]), 2),
            "traced_to_agent_under_load_mb": _agent_traced_mb(traced, args.seconds, traced_dir),
        },
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "agent.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
