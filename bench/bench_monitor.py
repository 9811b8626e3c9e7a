#!/usr/bin/env python3
"""memory_monitor.py against psrecord, side by side, on the same 5-process tree.

Both sample the tree at 10 Hz for the same time, at the same time, so machine noise hits
both. Reports each one's CPU time and peak RSS (from wait4, whole process: start-up
included), and the monitor's own sample-timing jitter. Usage (from the repository root,
after ./run_tests.sh made .venv):

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/bench_monitor.py --duration 60
    .venv/bin/python bench/bench_monitor.py --duration 10 --rounds 5
    .venv/bin/python bench/bench_monitor.py --duration 10 --rounds 5 --changing
    .venv/bin/python bench/bench_monitor.py --parts
    .venv/bin/python bench/bench_monitor.py --startup

``--changing`` makes the tree's memory move all the time (its parent allocates and
frees 1 MB every 50 ms), so the monitor walks every process's smaps_rollup each second
instead of finding the pages unchanged. ``--parts`` prints what each part of one sample
costs, measured in this process on the same tree. ``--startup`` times whole processes,
round by round side by side: the monitor's ``--duration 0.05 -q`` on the tree,
psrecord's ``--help``, a bare interpreter (``-c pass``) and one that imports click (the
monitor's modules compiled first, as an installed package has them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMHOG = ROOT / "tests" / "programs" / "memhog.py"
sys.path.insert(0, str(ROOT))


def start_tree(changing: bool = False) -> subprocess.Popen:
    """A parent with 4 forked children: 5 processes sharing 50 MB, each with its own 4 MB."""
    hog = subprocess.Popen([sys.executable, str(MEMHOG)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, bufsize=1)
    for command in ("alloc 50", "fork 4", *(["churn 1 50"] if changing else [])):
        hog.stdin.write(command + "\n")
        hog.stdin.flush()
        assert hog.stdout.readline().strip() == "ok"
    return hog


def wait_usage(proc: subprocess.Popen) -> dict[str, float]:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "user_s": round(usage.ru_utime, 3), "system_s": round(usage.ru_stime, 3),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1), "exit": proc.returncode}


def side_by_side(hog: subprocess.Popen, duration: float, interval: float,
                 psrecord: Path, out: Path) -> dict:
    ours = subprocess.Popen(
        [sys.executable, str(ROOT / "memory_monitor.py"), "--pid", str(hog.pid),
         "--interval", str(interval), "--duration", str(duration), "--quiet",
         "-o", str(out / "monitor.json")])
    theirs = subprocess.Popen(
        [str(psrecord), str(hog.pid), "--include-children", "--interval",
         str(interval), "--duration", str(duration),
         "--log", str(out / "psrecord.txt")], stdout=subprocess.DEVNULL)
    ours_usage, theirs_usage = wait_usage(ours), wait_usage(theirs)
    report = json.loads((out / "monitor.json").read_text())
    psrecord_rows = [line for line in (out / "psrecord.txt").read_text().splitlines()[1:]
                     if line.strip()]
    sample = report["samples"][-1]
    fields_ours = (len(sample["system"]) + len(sample["process"] or {})
                   + len(sample["cgroup"] or {}))
    timing = report["summary"]["timing"]
    result = {
        "memory_monitor": {**ours_usage, "samples": report["summary"]["sample_count"],
                           "fields_per_sample": fields_ours,
                           "jitter_p50_ms": timing["jitter_p50_ms"],
                           "jitter_p99_ms": timing["jitter_p99_ms"],
                           "missed_ticks": timing["missed_ticks"],
                           "smaps_rollup": report["reads"]["smaps_rollup"]},
        "psrecord": {**theirs_usage, "samples": len(psrecord_rows),
                     "fields_per_sample": 4},  # elapsed, cpu %, real MB, virtual MB
    }
    result["cpu_ratio_ours_over_psrecord"] = round(
        ours_usage["cpu_s"] / theirs_usage["cpu_s"], 3) if theirs_usage["cpu_s"] else None
    return result


def cost_us(work, repeat: int) -> float:
    """CPU microseconds of one call of ``work``, warm (the best of three batches)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(repeat):
            work()
        best = min(best, (time.process_time() - start) / repeat * 1e6)
    return round(best, 1)


def parts(hog: subprocess.Popen) -> dict:
    """What each part of a sample costs (warm CPU µs), on the bench's tree."""
    from memory_analysis.monitor import procfs
    from memory_analysis.monitor.cgroup import MemoryCgroup
    from memory_analysis.monitor.sampler import SystemReader, TreeSampler, cgroup_sample

    tree = TreeSampler(hog.pid, pss_interval=1.0)
    first = tree.sample(0.0)
    pids = [int(pid) for pid in first["processes"]]
    files = procfs.ProcessFiles(pids[0])
    system = SystemReader()
    group = MemoryCgroup.of_process(hog.pid)
    clock = iter(range(1, 10**9))
    sample = {"t": 1.0, "time": 2.0, "system": system.read(), "process": first,
              "cgroup": cgroup_sample(group), "python": None}
    table = {
        "status (kept open, pread + parse), one process": cost_us(files.status, 3000),
        "status (open, read, close + parse), one process":
            cost_us(lambda: procfs.read_status(pids[0]), 3000),
        "stat (kept open, pread + parse), one process": cost_us(files.stat, 3000),
        "/proc/meminfo (kept open)": cost_us(system.read, 3000),
        "cgroup files (kept open)": cost_us(lambda: cgroup_sample(group), 3000),
        "open descriptors (list /proc/PID/fd)": cost_us(lambda: procfs.count_fds(hog.pid),
                                                        3000),
        "smaps_rollup, one process": cost_us(lambda: procfs.read_smaps_rollup(pids[0]), 200),
        "scan of the whole process table (the first)": cost_us(procfs.scan_processes, 100),
        "scan for new processes (later scans)": cost_us(
            lambda: procfs.scan_processes(tree._outsiders), 300),
        "tree sample between PSS reads (5 processes)":
            cost_us(lambda: tree.sample(next(clock) * 1e-6), 2000),
        "JSON encoding of a sample": cost_us(
            lambda: json.dumps(sample, separators=(",", ":")), 3000),
    }
    files.close()
    tree.close()
    system.close()
    return {"processes_on_host": len([e for e in os.listdir("/proc") if e.isdigit()]),
            "tree_processes": len(pids), "warm_cpu_us": table,
            "in_a_10_hz_loop_cpu_us_per_sample": loop_parts(hog.pid)}


def loop_parts(pid: int, ticks: int = 100, interval: float = 0.1) -> dict[str, float]:
    """Each part of the monitor's own loop, timed over ``ticks`` samples ``interval``
    apart: between samples the caches go cold, and a part costs several times its warm
    figure (PSS reads and scans included, where due)."""
    from memory_analysis.monitor.sampler import cgroup_sample
    from memory_analysis.monitor.session import MonitorConfig, MonitorSession
    from memory_analysis.reports.monitor_console import QuietView
    from memory_analysis.signals import StopSignal

    spent: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(part: str):
        begun = time.process_time()
        yield
        spent[part] = spent.get(part, 0.0) + time.process_time() - begun

    with tempfile.TemporaryDirectory() as out, StopSignal(()) as stop:
        session = MonitorSession(MonitorConfig(pid=pid, interval=interval,
                                               output=f"{out}/m.json"), QuietView(), stop)
        session._start_wall = time.time()
        start = time.monotonic()
        for _ in range(ticks):
            with timed("waiting for the tick (select)"):
                stop.wait(interval)
            now = time.monotonic()
            with timed("process tree"):
                process = session.sampler.sample(now)
            with timed("system (/proc/meminfo)"):
                system = session.system.read()
            with timed("cgroup"):
                group = cgroup_sample(session.cgroup)
            sample = {"t": now - start, "time": time.time(), "system": system,
                      "process": process, "cgroup": group, "python": None}
            with timed("JSON encoding"):
                encoded = json.dumps(sample, separators=(",", ":"))
            line = session.stream.lines
            with timed("stream write"):
                session.stream.write_encoded(encoded)
            with timed("summary, alerts, status"):
                session.summary.add(sample, line, 0.0)
                session._check_alerts(sample)
                session.view.sampled(sample, session._status(sample))
        session._close_files()
        session.stream.close()
    return {part: round(seconds / ticks * 1e6, 1) for part, seconds in spent.items()}


def startup(hog: subprocess.Popen, rounds: int) -> dict:
    """Wall and CPU milliseconds of whole processes (median of ``rounds``, each round
    running every command once, one after another)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "memory_analysis")],
                   check=True, stdout=subprocess.DEVNULL)
    psrecord = Path(sys.executable).with_name("psrecord")
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as out:
        commands = {
            "memory_monitor.py --duration 0.05 -q": [
                sys.executable, str(ROOT / "memory_monitor.py"), "--pid", str(hog.pid),
                "--duration", "0.05", "-q", "-o", f"{out}/monitor.json"],
            "psrecord --help": [str(psrecord), "--help"],
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import click'": [sys.executable, "-c", "import click"],
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                began = time.perf_counter()
                process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
                usage = wait_usage(process)
                times[name].append((time.perf_counter() - began, usage["cpu_s"]))
    median = {name: {"wall_ms": round(statistics.median(w for w, _ in runs) * 1e3, 1),
                     "cpu_ms": round(statistics.median(c for _, c in runs) * 1e3, 1)}
              for name, runs in times.items()}
    return {"rounds": rounds, "median": median,
            "click_import_wall_ms": round(median["python -c 'import click'"]["wall_ms"]
                                          - median["python -c pass"]["wall_ms"], 1),
            "walls_ms": {name: [round(w * 1e3, 1) for w, _ in runs]
                         for name, runs in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--changing", action="store_true",
                        help="the tree's memory moves all the time")
    parser.add_argument("--parts", action="store_true", help="cost of each part of a sample")
    parser.add_argument("--startup", action="store_true",
                        help="start-up of whole processes, the monitor's and its peers'")
    args = parser.parse_args()
    hog = start_tree(args.changing)
    try:
        if args.parts:
            result = parts(hog)
        elif args.startup:
            result = startup(hog, max(args.rounds, 10))
        else:
            psrecord = Path(sys.executable).with_name("psrecord")
            if not psrecord.exists():
                sys.exit("psrecord is missing: .venv/bin/pip install -r bench/requirements.txt")
            rounds = []
            for _ in range(args.rounds):
                with tempfile.TemporaryDirectory(prefix="bench-monitor-") as out:
                    rounds.append(side_by_side(hog, args.duration, args.interval, psrecord,
                                               Path(out)))
            ratios = [r["cpu_ratio_ours_over_psrecord"] for r in rounds]
            result = {"duration_s": args.duration, "interval_s": args.interval,
                      "tree_processes": 5, "changing": args.changing,
                      "ratios": ratios, "median_ratio": statistics.median(ratios),
                      "rounds": rounds}
    finally:
        hog.kill()
        hog.wait()
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    name = "monitor-startup.json" if args.startup else "monitor.json"
    (ROOT / "bench" / "out" / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
