"""One worker process of a multi-process load test (started by ``loadgen.runner``).

Protocol, one JSON object per line: the parent writes the job on stdin; the worker
answers ``{"type": "ready"}`` on stdout, waits for ``go`` on stdin, runs its share,
prints ``{"type": "tick", ...}`` every second, writes its full report to the job's
``result`` path (atomically) and prints ``{"type": "done", ...}``. SIGINT or SIGTERM
stop it early; it still writes its report, marked incomplete. ``FINISH_SIGNAL`` (SIGUSR1)
ends it early as finished: its report is complete.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

from memory_analysis.loadgen import eventloop
from memory_analysis.loadgen.config import LoadConfig
from memory_analysis.loadgen.engine import FINISH_SIGNAL, Engine
from memory_analysis.loadgen.report import build_report
from memory_analysis.loadgen.scenario import parse_scenario
from memory_analysis.reports.jsonio import write_json_atomic


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _tick(status: dict[str, Any]) -> None:
    message = {k: v for k, v in status.items() if k != "interval_encoded"}
    message["type"] = "tick"
    message["hist"] = status["interval_encoded"]
    _say(message)


async def _run(engine: Engine) -> tuple[Any, str]:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, engine.request_stop, signum)
    loop.add_signal_handler(FINISH_SIGNAL, engine.request_finish)
    return await engine.run()


def main() -> int:
    signal.signal(FINISH_SIGNAL, signal.SIG_IGN)  # until the load runs: nothing to end
    job = json.loads(sys.stdin.readline())
    config = LoadConfig.from_dict(job["config"])
    scenario = parse_scenario(job["scenario"], "scenario")
    engine = Engine(config, scenario, slot=job["slot"], slots=job["slots"],
                    user_ids=job["user_ids"], progress=_tick)
    stopped: list[int] = []

    def early(signum: int, _frame: object) -> None:
        stopped.append(signum)

    previous = {s: signal.signal(s, early) for s in (signal.SIGINT, signal.SIGTERM)}
    _say({"type": "ready"})
    go = sys.stdin.readline().strip()
    for s, handler in previous.items():
        signal.signal(s, handler)
    if go != "go" or stopped:
        return 1
    stats, end_reason = eventloop.run(_run(engine))
    signal.signal(FINISH_SIGNAL, signal.SIG_IGN)  # the loop's handler is gone with it
    record = {"url": config.url, "users": len(job["user_ids"]),
              "rate": None if config.rate is None else config.rate / job["slots"],
              "slot": job["slot"], "slots": job["slots"]}
    report = build_report(stats, record, complete=end_reason != "interrupted",
                          end_reason=end_reason)
    write_json_atomic(job["result"], report)
    _say({"type": "done", "end_reason": end_reason})
    return 0


if __name__ == "__main__":
    sys.exit(main())
