#!/usr/bin/env python3
"""Time the runner spends beyond its three phases (start-up, readiness, merge, reports).

Runs ``memory_analysis_runner.py --baseline 5 --load-test 10 --cooldown 5`` on the demo
service a few times and reports wall time minus the 20 s of phases. Usage, from the
repository root after ./run_tests.sh made .venv:

    .venv/bin/python bench/bench_runner.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = {"--baseline": 5.0, "--load-test": 10.0, "--cooldown": 5.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    phase_s = sum(PHASES.values())
    runs = []
    for _ in range(args.runs):
        out = Path(tempfile.mkdtemp(prefix="bench-runner-"))
        command = [sys.executable, str(ROOT / "memory_analysis_runner.py"), "--quiet",
                   "--output-dir", str(out)]
        for option, seconds in PHASES.items():
            command += [option, f"{seconds:g}"]
        start = time.monotonic()
        subprocess.run(command, check=True, cwd=ROOT)
        wall = time.monotonic() - start
        report = json.loads((out / "comprehensive_memory_analysis.json").read_text())
        runs.append({"wall_s": round(wall, 2), "overhead_s": round(wall - phase_s, 2),
                     "service_startup_s": report["service"]["startup_s"],
                     "requests": report["load_test"]["requests"]})
    result = {"phases_s": phase_s, "runs": runs,
              "max_overhead_s": max(r["overhead_s"] for r in runs)}
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / "runner.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
