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
4. The agent's own thread: the CPU it used during the fixed-rate rounds (its
   ``agent_cpu_s``, read from its reports just before and just after the load), and the
   garbage collections the demo ran meanwhile (each timed by the agent's gc callback).
5. A/A: two demos without the agent, side by side at the fixed rate each, in the same
   start order every round: the CPU per request of the one started second over the
   first's. It is why the side-by-side rounds alternate their order.
6. tracemalloc's own price, no agent: the demo under plain ``PYTHONTRACEMALLOC=N`` (the
   same as ``python -X tracemalloc=N``) for N = 1, 2, 8 frames, one demo at a time,
   between two untraced rounds (behind the agent's ``TRACE_FRAMES = 1``).
7. A snapshot on an idle interpreter: the agent, tracing, in a process holding about
   1.2 million traced blocks, asked for a snapshot through its control file: how long it
   took.

Usage, from the repository root after ./run_tests.sh made .venv:

    .venv/bin/python bench/bench_agent.py --rounds 6 --seconds 10
    .venv/bin/python bench/bench_agent.py --only aa,frames   # some parts alone
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

from memory_analysis.agent.control import agent_env, ask_snapshot, read_report  # noqa: E402
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
    deadline = time.monotonic() + 120  # start-up under tracemalloc with 8 frames is slow
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


def _fresh_report(directory: Path, pid: int, after: float, timeout: float = 5.0) -> dict:
    """The agent's first report in ``directory`` from process ``pid`` written at or after
    wall time ``after`` (it reports every second)."""
    deadline = time.monotonic() + timeout
    while True:
        report = read_report(directory, pid)
        if report is not None and float(report.get("time") or 0) >= after:
            return report
        if time.monotonic() > deadline:
            raise RuntimeError(f"no report from the agent in {pid} since {after}")
        time.sleep(0.05)


def _agent_figures(before: dict, after: dict) -> dict[str, float]:
    """What the agent's thread used between two of its reports, and the collections the
    service ran meanwhile."""
    return {"agent_span_s": round(after["time"] - before["time"], 3),
            "agent_cpu_ms": round((after["agent_cpu_s"] - before["agent_cpu_s"]) * 1e3, 2),
            "gc_collections": sum(after["gc"]["collections"])
                              - sum(before["gc"]["collections"])}


def _round(env: dict[str, str], seconds: float, rate: float | None = None) -> dict[str, float]:
    """One demo under load: its throughput, p99, RSS, and the CPU it spent per request.
    With ``rate``, an open load at that many requests/s (the CPU per request is then
    measured on the same work, whatever else the machine is doing). With the agent in
    it, also what the agent's thread used during the load (from its reports)."""
    process, url = _demo(env)
    agent_dir = Path(env["MEMORY_ANALYSIS_AGENT"]) if env.get("MEMORY_ANALYSIS_AGENT") else None
    try:
        before = _fresh_report(agent_dir, process.pid, time.time()) if agent_dir else None
        cpu_before = _cpu_s(process.pid)
        with tempfile.TemporaryDirectory() as directory:
            output = Path(directory) / "load.json"
            load = ["--users", "10", "--repeat"] if rate is None else \
                ["--users", "50", "--repeat", "--rate", f"{rate:g}"]
            subprocess.run([sys.executable, str(ROOT / "load_tester.py"), "--url", url, *load,
                            "--duration", f"{seconds:g}", "--quiet", "--output", str(output)],
                           check=True, stdout=subprocess.DEVNULL, env=child_env())
            report = json.loads(output.read_text())
        cpu_after = _cpu_s(process.pid)
        requests = report["totals"]["requests"]
        out = {"rps": report["totals"]["rps"], "p99_ms": report["latency_ms"]["p99"],
               "rss_mb": round(_rss_mb(process.pid), 1),
               "cpu_us_per_request": round((cpu_after - cpu_before) * 1e6
                                           / max(requests, 1), 1)}
        if before is not None:
            after = _fresh_report(agent_dir, process.pid, time.time())
            # The demo's CPU over (about) the same span as the agent's figures.
            out.update(_agent_figures(before, after), load_s=report["totals"]["duration_s"],
                       demo_cpu_ms=round((_cpu_s(process.pid) - cpu_before) * 1e3, 1))
        return out
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


IDLE_SNAPSHOT = """
import sys, tracemalloc
keep = [object() for _ in range(int(sys.argv[1]))]
print("ready", flush=True)
sys.stdin.readline()  # the agent has answered: count the traced blocks
print(len(tracemalloc.take_snapshot().traces), flush=True)
"""


def _idle_snapshot(blocks: int) -> dict[str, float]:
    """The agent, tracing with its one frame, in an idle interpreter holding ``blocks``
    more objects: asked for a snapshot through the control file, how long it took."""
    with tempfile.TemporaryDirectory(prefix="bench-agent-idle-") as directory:
        env = agent_env(child_env(), directory, 1.0)
        env["MEMORY_ANALYSIS_AGENT_TRACEMALLOC"] = "1"
        process = subprocess.Popen([sys.executable, "-c", IDLE_SNAPSHOT, str(blocks)],
                                   env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True)
        try:
            assert process.stdout.readline().strip() == "ready"
            number = ask_snapshot(directory)
            deadline = time.monotonic() + 120
            while True:
                report = read_report(directory, process.pid) or {}
                if int(report.get("snapshot_seq") or 0) >= number:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the agent did not answer the snapshot request")
                time.sleep(0.05)
            process.stdin.write("count\n")
            process.stdin.flush()
            traced_blocks = int(process.stdout.readline())
        finally:
            process.stdin.close()
            process.wait(timeout=60)
        traced = report.get("tracemalloc") or {}
        return {"traced_blocks": traced_blocks, "snapshot_seq": report.get("snapshot_seq"),
                "asked": number, "took_s": traced.get("took_s"),
                "traced_mb": traced.get("current_mb"), "frames": traced.get("frames")}


def _idle_rss(env: dict[str, str]) -> float:
    code = "import time, sys; time.sleep(1.5); print(open('/proc/self/status').read())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.split("VmRSS:")[1].split()[0]) / 1024


PARTS = ("alternating", "side_by_side", "side_by_side_cpu", "cpu_per_request",
         "tracemalloc", "agent_memory", "aa", "frames", "idle_snapshot")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=600.0,
                        help="requests/s of the fixed-rate rounds")
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated parts to run: " + ", ".join(PARTS))
    parser.add_argument("--frames", default="1,2,8",
                        help="tracemalloc frame counts of the 'frames' part")
    parser.add_argument("--idle-blocks", type=int, default=1_200_000,
                        help="objects held by the interpreter of the 'idle_snapshot' part")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    plain = child_env()
    with_agent = agent_env(child_env(), work / "agent", 1.0)
    (work / "agent").mkdir()
    traced_dir = work / "traced"
    traced_dir.mkdir()
    traced = agent_env(child_env(), traced_dir, 1.0)
    traced["MEMORY_ANALYSIS_AGENT_TRACEMALLOC"] = "1"
    result: dict[str, object] = {"rounds": args.rounds, "seconds": args.seconds,
                                 "rate": args.rate, "parts": sorted(parts)}

    def alternate(rate: float | None) -> dict[str, list[dict[str, float]]]:
        runs: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
        for index in range(args.rounds):
            order = ("without", "with") if index % 2 == 0 else ("with", "without")
            for name in order:
                runs[name].append(_round(plain if name == "without" else with_agent,
                                         args.seconds, rate=rate))
        return runs

    # Both at once, each with its own load tester: the machine's ups and downs hit both.
    # The demo started second (and its load tester) does measurably worse, agent or not
    # (the A/A part): the order alternates round by round.
    def both(index: int) -> dict[str, dict[str, str]]:
        return ({"without": plain, "with": with_agent} if index % 2 == 0
                else {"with": with_agent, "without": plain})

    def geometric(ratios: list[float], sign: int) -> dict[str, object]:
        mean = statistics.geometric_mean(ratios)
        return {"ratios": [round(r, 4) for r in ratios], "mean_ratio": round(mean, 4),
                "cost_percent": round(sign * (mean - 1) * 100, 2)}

    if "alternating" in parts:
        rounds = alternate(None)
        median = {name: statistics.median(r["rps"] for r in runs)
                  for name, runs in rounds.items()}
        result["throughput"] = {"rounds": rounds, "median_rps": median, "cost_percent":
                                round((1 - median["with"] / median["without"]) * 100, 2)}
    # Geometric means: with as many rounds in each order, the order's effect cancels.
    if "side_by_side" in parts:
        pairs = [_side_by_side(both(index), args.seconds) for index in range(args.rounds)]
        result["side_by_side"] = {"rounds": pairs, **geometric(
            [pair["with"]["rps"] / pair["without"]["rps"] for pair in pairs], -1)}
    if "side_by_side_cpu" in parts:
        paced_pairs = [_side_by_side(both(index), args.seconds, rate=args.rate / 2)
                       for index in range(args.rounds)]
        result["side_by_side_cpu"] = {"rate_each": args.rate / 2, "rounds": paced_pairs,
                                      **geometric([pair["with"]["cpu_us_per_request"]
                                                   / pair["without"]["cpu_us_per_request"]
                                                   for pair in paced_pairs], 1)}
    if "cpu_per_request" in parts:
        # The same work at a fixed rate: CPU per request is what bounds a CPU-bound
        # service's throughput, and it is far steadier than a saturation run on a busy
        # host. The rounds with the agent also give its own thread's CPU.
        paced = alternate(args.rate)
        cpu = {name: statistics.median(r["cpu_us_per_request"] for r in runs)
               for name, runs in paced.items()}
        result["cpu_per_request"] = {
            "rate": args.rate, "rounds": paced, "median_us": cpu,
            "cost_percent": round((cpu["with"] / cpu["without"] - 1) * 100, 2)}
        own = paced["with"]
        result["agent_thread"] = {
            "rate": args.rate,
            "agent_cpu_ms": [r["agent_cpu_ms"] for r in own],
            "span_s": [r["agent_span_s"] for r in own],
            "gc_collections": [r["gc_collections"] for r in own],
            "median_agent_cpu_ms": statistics.median(r["agent_cpu_ms"] for r in own),
            "median_span_s": statistics.median(r["agent_span_s"] for r in own),
            "median_gc_collections": statistics.median(r["gc_collections"] for r in own),
            # Of the wall time between the two reports, and of the demo's own CPU.
            "median_percent_of_wall": round(statistics.median(
                r["agent_cpu_ms"] / 10 / r["agent_span_s"] for r in own), 3),
            "median_percent_of_demo_cpu": round(statistics.median(
                r["agent_cpu_ms"] * 100 / r["demo_cpu_ms"] for r in own), 3)}
    if "tracemalloc" in parts:
        tracing = [_round(plain, args.seconds), _round(traced, args.seconds)]
        result["tracemalloc"] = {"without_agent": tracing[0], "with_tracemalloc": tracing[1],
                                 "throughput_percent_of_untraced":
                                     round(tracing[1]["rps"] * 100 / tracing[0]["rps"], 1)}
    if "agent_memory" in parts:
        idle: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(3):
            idle["without"].append(_idle_rss({**os.environ, **plain}))
            idle["with"].append(_idle_rss(with_agent))
        result["agent_memory"] = {
            "idle_rss_without_mb": round(statistics.median(idle["without"]), 2),
            "idle_rss_with_mb": round(statistics.median(idle["with"]), 2),
            "idle_rss_added_mb": round(statistics.median(idle["with"])
                                       - statistics.median(idle["without"]), 2)}
        result["after_a_traced_load"] = _traced_figures(traced, args.seconds, traced_dir)
    if "aa" in parts:
        # The same demo twice, no agent in either, the same one started first every
        # round: what the order alone does to the CPU per request.
        aa = [_side_by_side({"first": plain, "second": plain}, args.seconds,
                            rate=args.rate / 2) for _ in range(args.rounds)]
        result["aa"] = {"rate_each": args.rate / 2, "rounds": aa, **geometric(
            [pair["second"]["cpu_us_per_request"] / pair["first"]["cpu_us_per_request"]
             for pair in aa], 1)}
        result["aa"]["second_over_first_cpu_percent"] = result["aa"].pop("cost_percent")
    if "frames" in parts:
        # One demo at a time: untraced, each frame count, untraced again.
        untraced = [_round(plain, args.seconds)]
        by_frames = {}
        for frames in (int(n) for n in args.frames.split(",")):
            by_frames[str(frames)] = _round({**plain, "PYTHONTRACEMALLOC": str(frames)},
                                            args.seconds)
        untraced.append(_round(plain, args.seconds))
        base = statistics.mean(r["rps"] for r in untraced)
        base_cpu = statistics.mean(r["cpu_us_per_request"] for r in untraced)
        result["frames"] = {
            "untraced": untraced, "traced": by_frames,
            "rps": {"untraced": [r["rps"] for r in untraced],
                    **{n: r["rps"] for n, r in by_frames.items()}},
            "percent_of_untraced_rps": {n: round(r["rps"] * 100 / base, 2)
                                        for n, r in by_frames.items()},
            "cpu_per_request_x_untraced": {n: round(r["cpu_us_per_request"] / base_cpu, 1)
                                           for n, r in by_frames.items()}}
    if "idle_snapshot" in parts:
        result["idle_snapshot"] = _idle_snapshot(args.idle_blocks)
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    name = "agent.json" if parts == set(PARTS) else "agent-" + "-".join(sorted(parts)) + ".json"
    (ROOT / "bench" / "out" / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
