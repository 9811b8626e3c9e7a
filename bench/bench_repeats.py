#!/usr/bin/env python3
"""Run one runner command N times on one service and count how often the leak verdict
contradicts itself.

    .venv/bin/python bench/bench_repeats.py --service django --repeats 20
    .venv/bin/python bench/bench_repeats.py --service node --mode attached --busy --quick
    .venv/bin/python bench/bench_repeats.py --service demo --repeats 5 -- --users 50

``--service`` is a name of ``record_traces.SERVICES`` (``--list`` shows them), started as
the recorder starts it: by the runner (``--service-cmd``, the default), "attached"
(started here, the runner given ``--pid``), or the bundled demo. ``--busy`` keeps both
cores busy (two ``python3 -c 'while True: pass'``) during every run. Arguments after
``--`` go to the runner as they are.

``--rejudge DIR`` runs nothing: it judges again, with the engine as it is now, the runs
an earlier ``--keep DIR`` kept (their samples and load timelines, as the recorder turns
a run into a trace), so a change to the verdicts can be measured on the same 20 runs.

Prints one row per run (``memory.leak.verdict``, ``confidence``, ``assessment.level``,
the slope and the request rate), then the count of each verdict and of "opposite definite
verdicts": pairs of runs where one said "leak" and another "no leak" (n_leak x n_no_leak),
the flip-flops a user who ran the same command twice would see. ``--json FILE`` writes
the rows too. Each run is a full runner run (default phases 30/120/30 s, 3 min): 20 runs
take an hour.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record_traces import DEFAULT, QUICK, SERVICES, build_trace, run_once  # noqa: E402

from memory_analysis.analysis.analyze import analyze  # noqa: E402

DEFINITE = ("leak", "no leak")


def phases(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split("/")]
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError("phases are BASELINE/LOAD/COOLDOWN seconds, "
                                         "e.g. 30/120/30")
    return parts[0], parts[1], parts[2]


def row_of(index: int, how: dict[str, Any]) -> dict[str, Any]:
    report = how["report"]
    leak = (report.get("memory") or {}).get("leak") or {}
    return {"run": index, "verdict": leak.get("verdict"), "confidence": leak.get("confidence"),
            "level": (report.get("assessment") or {}).get("level"),
            "slope_mb_per_min": leak.get("slope_mb_per_min"),
            "growth_mb": (report.get("memory") or {}).get("growth_mb"),
            "rps": (report.get("load_test") or {}).get("rps"),
            "runner_exit": how["runner_exit"], "date": how["date"],
            "loadavg_1min_before": how["loadavg_1min_before"]}


def rejudged(index: int, folder: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """The row of a kept run, judged again by the engine as it is now."""
    how = {"date": None, "loadavg_1min_before": None}
    trace = build_trace(folder.name, {**spec, "truth": "healthy"}, folder, [], how)
    options = {**trace["options"], "segments": trace["segments"]}
    report = analyze(trace["samples"], trace["load_test"], options)
    report["load_test"] = trace["load_test"]
    return row_of(index, {**how, "report": report, "runner_exit": None})


def print_row(row: dict[str, Any]) -> None:
    print(f"{row['run']:>3}  {str(row['verdict']):18} {str(row['confidence']):10} "
          f"{str(row['level']):9} {row['slope_mb_per_min'] or 0:12.3f} "
          f"{row['growth_mb'] or 0:9.1f} {row['rps'] or 0:8.0f}", flush=True)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r["verdict"] for r in rows)
    leak, no_leak = counts.get("leak", 0), counts.get("no leak", 0)
    return {"runs": len(rows), "verdicts": dict(counts),
            "opposite_definite_pairs": leak * no_leak,
            "flip_flop": leak > 0 and no_leak > 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", help="a service of record_traces.SERVICES")
    parser.add_argument("--list", action="store_true", help="list the services and exit")
    parser.add_argument("--mode", choices=("runner", "attached"), default="runner",
                        help="who starts a service that is not the demo (default: the runner)")
    parser.add_argument("--repeats", type=int, default=20, help="runs (default 20)")
    parser.add_argument("--busy", action="store_true", help="keep both cores busy")
    parser.add_argument("--quick", action="store_true", help="phases 15/30/15")
    parser.add_argument("--phases", type=phases, help="BASELINE/LOAD/COOLDOWN seconds")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the rows here too")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each run's output directory under DIR (run_N)")
    parser.add_argument("--rejudge", type=Path, metavar="DIR",
                        help="judge the runs kept in DIR again, running nothing")
    parser.add_argument("runner_args", nargs="*", help="after --: more runner arguments")
    options = parser.parse_args()
    if options.list:
        for name, service in SERVICES.items():
            print(f"{name:12} {service['what']}")
        return 0
    if options.service not in SERVICES:
        parser.error(f"--service must be one of {', '.join(SERVICES)}")
    if options.repeats < 1:
        parser.error("--repeats must be at least 1")
    demo = bool(SERVICES[options.service].get("demo"))
    spec = {"service": options.service, "mode": "demo" if demo else options.mode,
            "busy": options.busy,
            "phases": options.phases or (QUICK if options.quick else DEFAULT)}
    print(f"{options.service} ({SERVICES[options.service]['what']}), {spec['mode']}, "
          f"{'busy' if spec['busy'] else 'quiet'}, phases {'/'.join(map(str, spec['phases']))}"
          f" s, {options.repeats} runs", flush=True)
    header = (f"{'run':>3}  {'verdict':18} {'confidence':10} {'level':9} {'slope MB/min':>12} "
              f"{'growth MB':>9} {'req/s':>8}")
    print(header, flush=True)
    rows = []
    for index in range(1, options.repeats + 1):
        if options.rejudge:
            folder = options.rejudge / f"run_{index}"
            if not (folder / "comprehensive_memory_analysis.json").exists():
                print(f"{index:>3}  no run kept in {folder}", flush=True)
                continue
            row = rejudged(index, folder, spec)
            rows.append(row)
            print_row(row)
            continue
        work = Path(tempfile.mkdtemp(prefix="bench_repeats_"))
        out = options.keep / f"run_{index}" if options.keep else work / "results"
        try:
            how = run_once(spec, out, work, options.runner_args)
        except RuntimeError as error:
            print(f"{index:>3}  failed: {error}", flush=True)
            continue
        finally:
            if not options.keep:
                shutil.rmtree(work, ignore_errors=True)
        row = row_of(index, how)
        rows.append(row)
        print_row(row)
    result = summary(rows)
    print(f"\nverdicts: {', '.join(f'{v}: {n}' for v, n in result['verdicts'].items())}")
    print(f"opposite definite verdicts (pairs of one 'leak' and one 'no leak'): "
          f"{result['opposite_definite_pairs']}"
          f"{' -- the verdict flip-flops' if result['flip_flop'] else ''}")
    if options.json:
        options.json.write_text(json.dumps({"service": options.service, **spec,
                                            "summary": result, "rows": rows}, indent=1))
    return 0 if len(rows) == options.repeats else 1


if __name__ == "__main__":
    sys.exit(main())
