#!/usr/bin/env python3
"""memory_monitor.py against psrecord, side by side, on the same 5-process tree.

Both sample the tree at 10 Hz for the same time, at the same time, so machine noise hits
both. Reports each one's CPU time and peak RSS (from wait4), and the monitor's own
sample-timing jitter. Usage (from the repository root, after ./run_tests.sh made .venv):

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/bench_monitor.py --duration 60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMHOG = ROOT / "tests" / "programs" / "memhog.py"


def start_tree() -> subprocess.Popen:
    """A parent with 4 forked children: 5 processes sharing 50 MB, each with its own 4 MB."""
    hog = subprocess.Popen([sys.executable, str(MEMHOG)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, bufsize=1)
    for command in ("alloc 50", "fork 4"):
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    psrecord = Path(sys.executable).with_name("psrecord")
    if not psrecord.exists():
        sys.exit("psrecord is missing: .venv/bin/pip install -r bench/requirements.txt")

    hog = start_tree()
    out = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    try:
        ours = subprocess.Popen(
            [sys.executable, str(ROOT / "memory_monitor.py"), "--pid", str(hog.pid),
             "--interval", str(args.interval), "--duration", str(args.duration), "--quiet",
             "-o", str(out / "monitor.json")])
        theirs = subprocess.Popen(
            [str(psrecord), str(hog.pid), "--include-children", "--interval",
             str(args.interval), "--duration", str(args.duration),
             "--log", str(out / "psrecord.txt")], stdout=subprocess.DEVNULL)
        ours_usage, theirs_usage = wait_usage(ours), wait_usage(theirs)
    finally:
        hog.kill()
        hog.wait()
    report = json.loads((out / "monitor.json").read_text())
    psrecord_rows = [line for line in (out / "psrecord.txt").read_text().splitlines()[1:]
                     if line.strip()]
    sample = report["samples"][-1]
    fields_ours = (len(sample["system"]) + len(sample["process"] or {})
                   + len(sample["cgroup"] or {}))
    result = {
        "duration_s": args.duration, "interval_s": args.interval, "tree_processes": 5,
        "memory_monitor": {**ours_usage, "samples": report["summary"]["sample_count"],
                           "fields_per_sample": fields_ours,
                           "jitter_p50_ms": report["summary"]["timing"]["jitter_p50_ms"],
                           "jitter_p99_ms": report["summary"]["timing"]["jitter_p99_ms"],
                           "missed_ticks": report["summary"]["timing"]["missed_ticks"]},
        "psrecord": {**theirs_usage, "samples": len(psrecord_rows),
                     "fields_per_sample": 4},  # elapsed, cpu %, real MB, virtual MB
    }
    result["cpu_ratio_ours_over_psrecord"] = round(
        ours_usage["cpu_s"] / theirs_usage["cpu_s"], 3) if theirs_usage["cpu_s"] else None
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "monitor.json").write_text(json.dumps(result, indent=2))
    time.sleep(0)


if __name__ == "__main__":
    main()
