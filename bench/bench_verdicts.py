"""How right the verdicts are on memory shapes with known answers (bench/corpus.py).

Runs the pure analysis (``memory_analysis.analysis.analyze``) on every case of the
corpus, as the runner would after a real run, and prints markdown tables:

- healthy shapes: how often a leak was called (false leaks) and how often the level was
  CRITICAL, by shape and by noise;
- leaks: how often each rate was found, by run length (the default 30/120/30,
  --quick 15/30/15, and a longer 30/300/60) and by noise, and how often the verdict
  said "no leak";
- leaks of other shapes (square-root growth beyond the headroom, a linear leak under a
  60 s sawtooth), by family;
- real traces (``bench/traces/*.json.gz``, ``bench/traces.py``) judged as recorded
  against their truth, and the healthy ones again with a leak of known rate added
  (``corpus.add_ramp``, kept after): kept per request (growing with the requests
  served, the usual leak) and growing with the clock (a timer's).

Each synthetic case is judged against a target memory the size of a plan that would
hold it (the power of two at or above twice its peak), as a user passing
--target-memory would; a trace, against what its run was judged against. Under the
tables, one example (its verdict's reason, shape, projected growth, headroom and the
shapes considered) for every healthy family or trace called a leak or CRITICAL, and for
every leak family or rate of 1 MB/min or more found less than 95 % of the time.

    python bench/bench_verdicts.py                 # 3 seeds of the whole corpus, traces
    python bench/bench_verdicts.py --seeds 10      # more cases, tighter figures
    python bench/bench_verdicts.py --only-traces   # the real traces alone
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus import (  # noqa: E402
    DEFAULT_RUN,
    QUICK_RUN,
    Case,
    add_ramp,
    healthy_cases,
    leak_cases,
    shaped_leak_cases,
    target_memory_mb,
)
from traces import TRACES, Trace, load_all  # noqa: E402

# What the verdict's "too short to tell" asks for on the noisier services.
LONG_RUN = {"baseline_s": 30.0, "load_s": 300.0, "cooldown_s": 60.0}

# Rates of the leaks added to the healthy real traces (MB/min).
TRACE_LEAK_RATES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
# The goals: leaks of this rate or more found this often (default run, real traces).
GOAL_RATE_MB_PER_MIN = 1.0
GOAL_FOUND = 0.95

from memory_analysis.analysis.analyze import analyze  # noqa: E402


def judge(case: Case) -> dict:
    samples = case.samples()
    peak = max(s["process"]["tree_service_mb"] for s in samples)
    return analyze(samples, {"requests": 0}, {"segments": case.load_segments(),
                                               "users": case.users,
                                               "target_memory_mb": target_memory_mb(peak)})


def judge_trace(trace: Trace, mb_per_min: float = 0.0, per_request: bool = True) -> dict:
    """A trace judged as recorded, or with a leak of ``mb_per_min`` added: kept per
    request (growing with the requests served), or with the clock (a timer's)."""
    segments = trace.options.get("segments") if per_request else None
    samples = add_ramp(trace.samples, mb_per_min, segments) if mb_per_min else trace.samples
    return analyze(samples, trace.load_test, trace.options)


def example(where: str, result: dict) -> str:
    """One case's verdict, as the engine's author needs it to see what went wrong."""
    leak = result["memory"]["leak"]
    shapes = ", ".join(f"{s['shape']} {s['bic']:g}" for s in leak.get("shapes_considered") or [])
    return (f"{where}: **{leak['verdict']}** ({leak.get('confidence')}), level "
            f"{result['assessment']['level']}; shape {leak.get('shape')}, projected growth "
            f"{leak.get('projected_growth_mb')} MB (interval {leak.get('projected_growth_ci_mb')})"
            f", headroom {leak.get('headroom_mb')} MB; shapes considered (BIC): {shapes}; "
            f"reason: \"{leak['reason']}\"")


def family(case: Case) -> str:
    if case.family:
        return case.family
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
    examples: dict[str, str] = {}
    for seed in range(seeds):
        for case in healthy_cases(seed):
            result = judge(case)
            leak = result["memory"]["leak"]["verdict"] == "leak"
            critical = result["assessment"]["level"] == "critical"
            for counter in (rows[family(case)], by_noise[noise_key(case)]):
                counter["cases"] += 1
                counter["false leak"] += leak
                counter["critical"] += critical
                # A growth the run could not tell from a leak, at a rate that would use
                # up the headroom: a warning by the leak's own rule, not by peak or hold.
                counter["warning, fast growth"] += bool(
                    result["memory"]["leak"].get("headroom_lasts_h") is not None
                    and result["assessment"]["level"] == "warning")
                counter[result["memory"]["leak"]["verdict"]] += 1
            false_leaks += leak
            criticals += critical
            if (leak or critical) and family(case) not in examples:
                examples[family(case)] = example(
                    f"{family(case)}: seed {seed}, {case.name} ({noise_key(case)})", result)
    lines = ["| healthy shape | cases | false leak | CRITICAL | no leak | too short to tell | "
             "of which WARNING for fast growth |", "|---|---|---|---|---|---|---|"]
    for name, c in sorted(rows.items()):
        lines.append(f"| {name} | {c['cases']} | {c['false leak']} | {c['critical']} | "
                     f"{c['no leak']} | {c['too short to tell']} | "
                     f"{c['warning, fast growth']} |")
    lines += ["", "| noise (sd, per-sample correlation) | healthy cases | false leak | "
              "CRITICAL |", "|---|---|---|---|"]
    for name, c in sorted(by_noise.items()):
        lines.append(f"| {name} | {c['cases']} | {c['false leak']} | {c['critical']} |")
    if examples:
        lines += ["", "Healthy families called a leak or CRITICAL, one case each:", ""]
        lines += [f"- {e}" for _, e in sorted(examples.items())]
    return lines, false_leaks, criticals


def leak_table(seeds: int, run: dict[str, float], label: str) -> list[str]:
    found: dict[float, collections.Counter] = collections.defaultdict(collections.Counter)
    by_noise: dict[tuple[float, str], collections.Counter] = collections.defaultdict(
        collections.Counter)
    missed: dict[float, str] = {}
    for seed in range(seeds):
        for case in leak_cases(seed, run):
            result = judge(case)
            verdict = result["memory"]["leak"]["verdict"]
            for counter in (found[case.leak_mb_per_min],
                            by_noise[(case.leak_mb_per_min, noise_key(case))]):
                counter["cases"] += 1
                counter[verdict] += 1
            if verdict != "leak" and case.leak_mb_per_min not in missed:
                missed[case.leak_mb_per_min] = example(
                    f"{case.leak_mb_per_min:g} MB/min, {label} run: seed {seed}, {case.name} "
                    f"({noise_key(case)})", result)
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
    short = [rate for rate, c in sorted(found.items())
             if rate >= GOAL_RATE_MB_PER_MIN and c["leak"] < GOAL_FOUND * c["cases"]]
    if short:
        lines += ["", f"Rates of {GOAL_RATE_MB_PER_MIN:g} MB/min or more found less than "
                  f"{GOAL_FOUND:.0%} of the time, {label} run, one missed case each:", ""]
        lines += [f"- {missed[rate]}" for rate in short]
    return lines


def shaped_leak_table(seeds: int, run: dict[str, float], label: str) -> list[str]:
    """Leaks of shapes the engine does not model as a line, by family."""
    rows: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    missed: dict[str, str] = {}
    for seed in range(seeds):
        for case in shaped_leak_cases(seed, run):
            result = judge(case)
            verdict = result["memory"]["leak"]["verdict"]
            rows[family(case)]["cases"] += 1
            rows[family(case)][verdict] += 1
            rows[family(case)]["critical"] += result["assessment"]["level"] == "critical"
            if verdict != "leak" and family(case) not in missed:
                missed[family(case)] = example(
                    f"{family(case)}, {label} run: seed {seed}, {case.name} "
                    f"({noise_key(case)})", result)
    lines = [f"Leaks of other shapes, {label} run:", "",
             "| leak family | cases | found | too short to tell | said no leak | CRITICAL |",
             "|---|---|---|---|---|---|"]
    for name, c in sorted(rows.items()):
        lines.append(f"| {name} | {c['cases']} | {c['leak'] / c['cases']:.0%} | "
                     f"{c['too short to tell'] / c['cases']:.0%} | {c['no leak']} | "
                     f"{c['critical']} |")
    short = [name for name, c in sorted(rows.items()) if c["leak"] < GOAL_FOUND * c["cases"]]
    if short:
        lines += ["", f"Found less than {GOAL_FOUND:.0%} of the time, {label} run, one missed "
                  "case each:", ""]
        lines += [f"- {missed[name]}" for name in short]
    return lines


def _started(trace: Trace) -> str:
    phases = "/".join(f"{p:g}" for p in trace.how.get("phases") or [])
    return (f"{trace.how.get('mode', '?')}, {'busy' if trace.busy else 'quiet'}, "
            f"{phases}")


def traces_table(traces: list[Trace]) -> tuple[list[str], int]:
    """Each real trace judged as recorded, against its truth; the count of traces whose
    verdict misses the goals (a healthy one called a leak or CRITICAL, a leak not found)."""
    lines = ["Real traces, judged as recorded:", "",
             "| trace | truth | started, machine, phases (s) | verdict | shape | confidence "
             "| level | goal |", "|---|---|---|---|---|---|---|---|"]
    failing: list[str] = []
    for trace in traces:
        result = judge_trace(trace)
        leak = result["memory"]["leak"]
        level = result["assessment"]["level"]
        if trace.truth == "healthy":
            ok = leak["verdict"] != "leak" and level != "critical"
        else:
            ok = leak["verdict"] == "leak"
        if not ok:
            failing.append(example(f"{trace.name} ({trace.truth}, {_started(trace)})", result))
        lines.append(f"| {trace.name} | {trace.truth} | {_started(trace)} | {leak['verdict']} "
                     f"| {leak.get('shape')} | {leak.get('confidence')} | {level} | "
                     f"{'met' if ok else '**missed**'} |")
    if failing:
        lines += ["", "Traces whose verdict misses the goals:", ""]
        lines += [f"- {e}" for e in failing]
    return lines, len(failing)


def trace_leaks_table(traces: list[Trace], per_request: bool,
                      rates: tuple[float, ...] = TRACE_LEAK_RATES) -> list[str]:
    """Each healthy trace with a leak of known rate added: which rates were found."""
    healthy = [t for t in traces if t.truth == "healthy"]
    how = ("kept per request: growing with the requests served, at the rate named for the "
           "run's mean request rate" if per_request else
           "growing with the seconds of load, as a timer's leak does")
    lines = ["Real healthy traces with a known leak added (L: leak, ?: too short to tell, "
             f"n: no leak; {how}):", "",
             "| trace | " + " | ".join(f"{r:g} MB/min" for r in rates) + " |",
             "|---|" + "---|" * len(rates)]
    found: collections.Counter = collections.Counter()
    missed: dict[float, str] = {}
    mark = {"leak": "L", "too short to tell": "?", "no leak": "n"}
    for trace in healthy:
        cells = []
        for rate in rates:
            result = judge_trace(trace, rate, per_request)
            verdict = result["memory"]["leak"]["verdict"]
            found[rate] += verdict == "leak"
            cells.append(mark.get(verdict, verdict))
            if verdict != "leak" and rate not in missed:
                missed[rate] = example(f"{trace.name} + {rate:g} MB/min ({_started(trace)})",
                                       result)
        lines.append(f"| {trace.name} | " + " | ".join(cells) + " |")
    if healthy:
        lines.append("| **found** | " + " | ".join(
            f"{found[r]}/{len(healthy)} ({found[r] / len(healthy):.0%})" for r in rates) + " |")
    short = [r for r in rates if r >= GOAL_RATE_MB_PER_MIN
             and healthy and found[r] < GOAL_FOUND * len(healthy)]
    if short:
        lines += ["", f"Rates of {GOAL_RATE_MB_PER_MIN:g} MB/min or more found less than "
                  f"{GOAL_FOUND:.0%} of the time on real traces, one missed case each:", ""]
        lines += [f"- {missed[r]}" for r in short]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="corpus repetitions (default 3)")
    parser.add_argument("--only-traces", action="store_true",
                        help="judge the real traces alone, not the synthetic corpus")
    parser.add_argument("--traces", default=str(TRACES),
                        help="directory of recorded traces (default bench/traces)")
    args = parser.parse_args()
    started = time.monotonic()
    traces = load_all(args.traces)
    lines, missed_traces = traces_table(traces)
    print("\n".join(lines))
    print()
    print("\n".join(trace_leaks_table(traces, per_request=True)))
    print()
    print("\n".join(trace_leaks_table(traces, per_request=False)))
    print()
    if args.only_traces:
        print(f"{len(traces)} traces, {missed_traces} missing the goals; "
              f"{time.monotonic() - started:.0f} s")
        return 0
    lines, false_leaks, criticals = healthy_table(args.seeds)
    print("\n".join(lines))
    print()
    print("\n".join(leak_table(args.seeds, DEFAULT_RUN, "default 30/120/30")))
    print()
    print("\n".join(leak_table(args.seeds, QUICK_RUN, "--quick 15/30/15")))
    print()
    print("\n".join(leak_table(args.seeds, LONG_RUN, "longer 30/300/60")))
    print()
    print("\n".join(shaped_leak_table(args.seeds, DEFAULT_RUN, "default 30/120/30")))
    print()
    print("\n".join(shaped_leak_table(args.seeds, LONG_RUN, "longer 30/300/60")))
    print()
    print(f"false leaks {false_leaks}, CRITICAL on healthy {criticals}; "
          f"{len(traces)} traces, {missed_traces} missing the goals; "
          f"{time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
