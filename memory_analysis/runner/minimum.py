"""``--find-minimum``: measure the smallest memory that serves the load.

A first round runs as asked, in a memory group without a limit (so its memory is
counted as the kernel will count it under one): its peak and its floor bound the
search. Then ``--rounds`` short rounds each start the service afresh inside a limit,
wait ``ROUND_BASELINE_S``, send the same load, and watch ``ROUND_COOLDOWN_S``; each
limit halves the span between the largest limit that failed and the smallest that
served (``analysis.rehearsal``). The first round's report gets the ``rehearsal``
block with every round; each limited round keeps its own reports in
``rounds/round_N_LIMITMB/``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from memory_analysis.analysis import rehearsal
from memory_analysis.analysis.plans import cheapest_plan, smallest_plan
from memory_analysis.analysis.thresholds import ROUND_BASELINE_S, ROUND_COOLDOWN_S
from memory_analysis.errors import BadInput, RunFailed
from memory_analysis.numbers import amount, seconds
from memory_analysis.runner.config import RunnerConfig
from memory_analysis.runner.merge import write_comprehensive
from memory_analysis.runner.orchestrator import RunnerView
from memory_analysis.runner.session import Measured, measure, publish
from memory_analysis.signals import StopSignal

ROUNDS_DIR = "rounds"
# What a round costs beyond its phases: the service's start, the tools' start and
# end, and the merge (measured on the demo: 1-2 s; a slower service starts slower).
ROUND_OVERHEAD_S = 4.0


class RoundView:
    """The user's view, each phase named with its round."""

    def __init__(self, view: RunnerView, label: str) -> None:
        self.view, self.label = view, label

    def phase(self, name: str, detail: str) -> None:
        self.view.phase(name, f"[{self.label}] {detail}")

    def progress(self, status: dict[str, Any]) -> None:
        self.view.progress(status)

    def finished(self, report: dict[str, Any], files: list[str]) -> None:
        pass


def planned_s(config: RunnerConfig) -> tuple[float, float]:
    """(the unlimited round, each limited round): seconds each is expected to take."""
    first = config.baseline + config.load_test + config.cooldown + ROUND_OVERHEAD_S
    limited = ROUND_BASELINE_S + config.load_test + ROUND_COOLDOWN_S + ROUND_OVERHEAD_S
    return first, limited


def _figures(measured: Measured) -> rehearsal.RoundFigures:
    report = measured.report
    rows = (measured.runs[0]["report"].get("timeline") or []) if measured.runs else []
    block = report.get("rehearsal") or {}
    return rehearsal.RoundFigures.of(report.get("load_test") or {}, rows,
                                     block.get("oom_kills") or 0,
                                     started=block.get("killed_in_phase") != "starting",
                                     refaults=(block.get("pressure") or {}).get("refaults"))


def _round_record(number: int, limit_mb: float | None, judged: tuple[bool, str, str],
                  directory: Path | str, report: dict[str, Any]) -> dict[str, Any]:
    """One row of ``rehearsal.rounds``: the round's verdict and, from its ``report``,
    its figures."""
    block = report.get("rehearsal") or {}
    load = report.get("load_test") or {}
    served, outcome, why = judged
    return {"round": number, "limit_mb": limit_mb, "served": served, "outcome": outcome,
            "why": why, "peak_mb": block.get("working_set_peak_mb"),
            "p95_ms": block.get("p95_ms"),
            "requests": load.get("requests"), "failures": load.get("failures"),
            "oom_kills": block.get("oom_kills"), "killed_in_phase": block.get("killed_in_phase"),
            "pressure": block.get("pressure"), "dir": str(directory)}


def find_minimum(config: RunnerConfig, view: RunnerView, stop: StopSignal) -> dict[str, Any]:
    """Run the rounds; return the first round's report with ``rehearsal`` (written)."""
    first_s, round_s = planned_s(config)
    view.phase("find-minimum", f"an unlimited round (about {seconds(first_s)}), then "
               f"{config.rounds} rounds under limits (about {seconds(round_s)} each): about "
               f"{seconds(first_s + config.rounds * round_s)} in all, at most")
    started = time.monotonic()
    # The rounds of an earlier --find-minimum into the same directory are not this run's.
    for old in (Path(config.output_dir) / ROUNDS_DIR).glob("round_*"):
        shutil.rmtree(old, ignore_errors=True)
    first = measure(config, RoundView(view, "unlimited round"), stop)
    report = first.report
    base = _figures(first)
    rounds = [_round_record(0, None, (True, "unlimited", "the load without a limit: what "
                                      "the other rounds are held to"), ".", report)]
    # The search is in what the kernel counts against a limit: the group's working set.
    floor, peak = rehearsal.group_span(first.samples)
    stopped = None
    if not report.get("complete"):
        stopped = f"the unlimited round did not complete ({report.get('end_reason')})"
    elif peak is None or floor is None:
        stopped = "the unlimited round did not observe the service's memory"
    elif base.oom_kills:
        stopped = "the service was OOM-killed without a limit of the runner's"
    low, high = rehearsal.search_span(floor or 0.0, peak or 0.0)
    search = (low, high)
    for number in range(1, config.rounds + 1):
        if stopped is not None:
            break
        if stop.requested:
            stopped = "interrupted"
            break
        limit = rehearsal.next_limit(low, high)
        if limit >= high or any(r["limit_mb"] == limit for r in rounds):
            break  # resolved to the MB: no limit left between the two
        directory = Path(config.output_dir) / ROUNDS_DIR / f"round_{number}_{limit}MB"
        label = f"round {number} of {config.rounds}, limit {amount(limit, 'MB')}"
        try:
            measured = measure(replace(config, find_minimum=False, rounds=RunnerConfig.rounds,
                                       memory_limit=f"{limit}M", baseline=ROUND_BASELINE_S,
                                       cooldown=ROUND_COOLDOWN_S, output_dir=str(directory),
                                       pictures=False),
                               RoundView(view, label), stop)
        except RunFailed as exc:
            # It did not start inside the limit, and no OOM kill was counted (a runtime
            # that refuses to start in too little memory, a start-up that timed out).
            first_line = str(exc).splitlines()[0]
            rounds.append(_round_record(
                number, limit, (False, "did not start", first_line), directory,
                {"rehearsal": {"oom_kills": 0, "killed_in_phase": "starting"},
                 "load_test": {"requests": 0, "failures": 0}}))
            RoundView(view, label).phase("round", f"did not start: {first_line}")
            low = limit
            continue
        except BadInput as exc:
            stopped = f"round {number} could not run: {exc}"
            break
        write_comprehensive(measured.outcome, measured.report)
        if measured.report.get("end_reason") == "interrupted":
            stopped = "interrupted"
            break
        judged = rehearsal.judge_round(base, _figures(measured))
        rounds.append(_round_record(number, limit, judged, directory, measured.report))
        RoundView(view, label).phase("round", f"{judged[1]}: {judged[2]}")
        if judged[0]:
            high = limit
        else:
            low = limit
    summary = rehearsal.minimum_summary(
        rounds[1:], search[0], search[1], (report.get("memory") or {}).get("peak_mb") or 0.0,
        (report.get("rehearsal") or {}).get("uncharged_file_mb"))
    block = {**(report.get("rehearsal") or {}), "source": "find_minimum", "limit_mb": None,
             **summary, "rounds": rounds, "planned_s": round(first_s + config.rounds * round_s),
             "took_s": round(time.monotonic() - started, 1), "complete": stopped is None,
             "stopped": stopped}
    if summary["buy_mb"] is not None:
        block["plans_for_minimum"] = {
            c["id"]: (smallest_plan(c, summary["buy_mb"]) or {}).get("name")
            for c in first.catalogs}
        # The cheapest across providers for the measured minimum, beside the one for the
        # rule of thumb (``recommendations.cheapest``).
        block["cheapest_for_minimum"] = cheapest_plan(first.catalogs, summary["buy_mb"])
        block["cheapest_for_rule"] = ((report.get("recommendations") or {}).get("cheapest")
                                      or {}).get("recommended")
    block["minimum_summary"] = rehearsal.minimum_text(block)
    report["rehearsal"] = block
    if stopped == "interrupted":
        report["complete"], report["end_reason"] = False, "interrupted"
    return publish(first, view)
