"""How right the verdicts are on memory shapes with known answers (bench/corpus.py).

Runs the pure analysis (``memory_analysis.analysis.analyze``) on every case of the
corpus, as the runner would after a real run, and prints markdown tables:

- healthy shapes: how often a leak was called (false leaks) and how often the level was
  CRITICAL, by shape and by noise;
- leaks: how often each rate was found, by run length (the default 30/120/30,
  --quick 15/30/15, and a longer 30/300/60) and by noise, and how often the verdict
  said "no leak".

Each case is judged against a target memory the size of a plan that would hold it
(the power of two at or above twice its peak), as a user passing --target-memory would.

    python bench/bench_verdicts.py                 # 3 seeds of the whole corpus
    python bench/bench_verdicts.py --seeds 10      # more cases, tighter figures
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import DEFAULT_RUN, QUICK_RUN, Case, healthy_cases, leak_cases  # noqa: E402

# What the verdict's "too short to tell" asks for on the noisier services.
LONG_RUN = {"baseline_s": 30.0, "load_s": 300.0, "cooldown_s": 60.0}

from memory_analysis.analysis.analyze import analyze  # noqa: E402


def judge(case: Case) -> dict:
    samples = case.samples()
    peak = max(s["process"]["tree_service_mb"] for s in samples)
    target = 2 ** math.ceil(math.log2(2 * peak))
    return analyze(samples, {"requests": 0}, {"segments": case.load_segments(),
                                               "users": case.users,
                                               "target_memory_mb": float(target)})


def family(case: Case) -> str:
    name = case.name.split(" on ")[0].split(" (#")[0].split(" phase")[0]
    if name.startswith("warm-up"):
        return f"warm-up, time constant {case.tags['tau_s']:.0f} s"
    return name


def noise_key(case: Case) -> str:
    return f"{case.noise.sd_mb:g} MB, phi {case.noise.phi:g}"


def healthy_table(seeds: int) -> tuple[list[str], int, int]:
    rows: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    by_noise: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    false_leaks = criticals = 0
    examples = []
    for seed in range(seeds):
        for case in healthy_cases(seed):
            result = judge(case)
            leak = result["memory"]["leak"]["verdict"] == "leak"
            critical = result["assessment"]["level"] == "critical"
            for counter in (rows[family(case)], by_noise[noise_key(case)]):
                counter["cases"] += 1
                counter["false leak"] += leak
                counter["critical"] += critical
                counter[result["memory"]["leak"]["verdict"]] += 1
            false_leaks += leak
            criticals += critical
            if (leak or critical) and len(examples) < 10:
                examples.append(f"{case.name} ({noise_key(case)}): "
                                f"{result['memory']['leak']['reason'][:160]}")
    lines = ["| healthy shape | cases | false leak | CRITICAL | no leak | too short to tell |",
             "|---|---|---|---|---|---|"]
    for name, c in sorted(rows.items()):
        lines.append(f"| {name} | {c['cases']} | {c['false leak']} | {c['critical']} | "
                     f"{c['no leak']} | {c['too short to tell']} |")
    lines += ["", "| noise (sd, per-sample correlation) | healthy cases | false leak | "
              "CRITICAL |", "|---|---|---|---|"]
    for name, c in sorted(by_noise.items()):
        lines.append(f"| {name} | {c['cases']} | {c['false leak']} | {c['critical']} |")
    lines += [""] + [f"- {e}" for e in examples]
    return lines, false_leaks, criticals


def leak_table(seeds: int, run: dict[str, float], label: str) -> list[str]:
    found: dict[float, collections.Counter] = collections.defaultdict(collections.Counter)
    by_noise: dict[tuple[float, str], collections.Counter] = collections.defaultdict(
        collections.Counter)
    for seed in range(seeds):
        for case in leak_cases(seed, run):
            verdict = judge(case)["memory"]["leak"]["verdict"]
            for counter in (found[case.leak_mb_per_min],
                            by_noise[(case.leak_mb_per_min, noise_key(case))]):
                counter["cases"] += 1
                counter[verdict] += 1
    lines = [f"Leaks, {label} run:", "",
             "| leak MB/min | cases | found | too short to tell | said no leak |",
             "|---|---|---|---|---|"]
    for rate, c in sorted(found.items()):
        lines.append(f"| {rate:g} | {c['cases']} | {c['leak'] / c['cases']:.0%} | "
                     f"{c['too short to tell'] / c['cases']:.0%} | {c['no leak']} |")
    noises = sorted({n for _, n in by_noise})
    lines += ["", f"Found, {label} run, by noise:", "",
              "| leak MB/min | " + " | ".join(noises) + " |",
              "|---|" + "---|" * len(noises)]
    for rate in sorted(found):
        cells = []
        for noise in noises:
            c = by_noise[(rate, noise)]
            cells.append(f"{c['leak']}/{c['cases']}" if c["cases"] else "-")
        lines.append(f"| {rate:g} | " + " | ".join(cells) + " |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="corpus repetitions (default 3)")
    args = parser.parse_args()
    started = time.monotonic()
    lines, false_leaks, criticals = healthy_table(args.seeds)
    print("\n".join(lines))
    print()
    print("\n".join(leak_table(args.seeds, DEFAULT_RUN, "default 30/120/30")))
    print()
    print("\n".join(leak_table(args.seeds, QUICK_RUN, "--quick 15/30/15")))
    print()
    print("\n".join(leak_table(args.seeds, LONG_RUN, "longer 30/300/60")))
    print()
    print(f"false leaks {false_leaks}, CRITICAL on healthy {criticals}; "
          f"{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
