#!/usr/bin/env python3
"""How --load-test auto decides (bench/corpus.py shapes with known answers): at each look
of ``runlength.look_times`` the leak test is run, as the runner runs it, on the samples up
to that much load (no cooldown yet), each look at its Bonferroni share of the error
rates; the run stops at the first "leak" or "no leak", else at the cap.

Prints markdown tables: for healthy shapes, how often auto ended in "leak" (a false
leak), "no leak", or at the cap, and the median load it took; for leaks of known rates,
how often each was found, and how soon.

Each case is judged against a target the size of a plan holding its peak of a default
two-minute run (``corpus.target_memory_mb``), fixed for the whole run as a user's
--target-memory is. Shapes are drawn over the cap's length (a warm-up's time constant up
to a third of it).

    python bench/bench_auto.py                   # cap 15 min, every 4th healthy case
    python bench/bench_auto.py --every 1 --seeds 2
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import Case, healthy_cases, leak_cases, target_memory_mb  # noqa: E402

from memory_analysis.analysis.analyze import analyze  # noqa: E402
from memory_analysis.analysis.runlength import look_times, settles  # noqa: E402
from memory_analysis.analysis.thresholds import AUTO_MAX_S  # noqa: E402

RATES = (1.0, 2.0, 5.0, 10.0, 20.0)
# Below a few MB/min the synthetic services' noise, not the rate, decides how long a look
# needs: the rates of the verdicts bench's goal (1 MB/min and more).


def run_auto(case: Case, max_s: float) -> tuple[str, float, int]:
    """(how it ended: "leak" | "no leak" | "cap", seconds of load, looks taken)."""
    samples = case.samples()
    base = case.run["baseline_s"]
    default = [s for s in samples if s["t"] < base + 120.0]
    target = target_memory_mb(max(s["process"]["tree_service_mb"] for s in default))
    times = look_times(max_s)
    segment = case.load_segments()[0]
    rate = segment["requests"] / (segment["end_t"] - segment["start_t"])
    for index, at in enumerate(times, 1):
        cut = [s for s in samples if s["t"] < base + at]
        seg = {**segment, "end_t": base + at, "requests": int(rate * at)}
        leak = analyze(cut, {"requests": 0}, {"segments": [seg], "users": case.users,
                                              "target_memory_mb": target,
                                              "looks": len(times)})["memory"]["leak"]
        if settles(leak, at):
            return leak["verdict"], at, index
    return "cap", max_s, len(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max", type=float, default=AUTO_MAX_S, help="the cap, seconds")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--every", type=int, default=4, help="every Nth healthy case")
    args = parser.parse_args()
    run = {"baseline_s": 30.0, "load_s": args.max, "cooldown_s": 0.5}
    started = time.time()
    healthy: dict[str, list[tuple[str, float]]] = collections.defaultdict(list)
    leaks: dict[float, list[tuple[str, float]]] = collections.defaultdict(list)
    for seed in range(1, args.seeds + 1):
        for index, case in enumerate(healthy_cases(seed, run)):
            if index % args.every:
                continue
            ended, load_s, _ = run_auto(case, args.max)
            healthy[case.family or " ".join(case.name.split()[:2])].append((ended, load_s))
        for case in leak_cases(seed, run, RATES):
            ended, load_s, _ = run_auto(case, args.max)
            leaks[case.leak_mb_per_min].append((ended, load_s))
    print(f"## --load-test auto (cap {args.max:g} s), {args.seeds} seed(s), every "
          f"{args.every} healthy case(s), {time.time() - started:.0f} s\n")
    print("| healthy family | cases | leak (false) | no leak | at the cap | median load |")
    print("|---|---|---|---|---|---|")
    total = collections.Counter()
    for family, results in sorted(healthy.items()):
        counts = collections.Counter(e for e, _ in results)
        total.update(counts)
        print(f"| {family} | {len(results)} | {counts['leak']} | {counts['no leak']} | "
              f"{counts['cap']} | {statistics.median(s for _, s in results):.0f} s |")
    cases = sum(total.values())
    print(f"| **all** | {cases} | {total['leak']} | {total['no leak']} | {total['cap']} | |\n")
    print("| leak rate | cases | found | said no leak | at the cap | median load to find |")
    print("|---|---|---|---|---|---|")
    for rate, results in sorted(leaks.items()):
        counts = collections.Counter(e for e, _ in results)
        found = [s for e, s in results if e == "leak"]
        median = f"{statistics.median(found):.0f} s" if found else "-"
        print(f"| {rate:g} MB/min | {len(results)} | {counts['leak']} "
              f"({counts['leak'] / len(results):.0%}) | {counts['no leak']} | "
              f"{counts['cap']} | {median} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
