"""Run a load test: pre-flight check, one engine in this process or N worker processes,
one merged report, thresholds, the report written atomically.

Worker processes (``python -m memory_analysis.loadgen.worker``) each run an Engine on
their share of users (or of the rate) and write a full report of their own; this
process merges them exactly with ``RunStats.add``, the same code the ``merge``
subcommand uses for shards. SIGINT/SIGTERM stop every worker, which write what they
have; the merged report is then marked incomplete and no worker is left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from memory_analysis.childenv import child_env
from memory_analysis.errors import BadInput, RunFailed
from memory_analysis.loadgen import eventloop
from memory_analysis.loadgen.config import LoadConfig
from memory_analysis.loadgen.engine import FINISH_SIGNAL, Engine, preflight, users_for_slot
from memory_analysis.loadgen.histogram import LatencyHistogram
from memory_analysis.loadgen.report import (
    apply_thresholds,
    build_report,
    stats_from_report,
)
from memory_analysis.loadgen.scenario import Scenario, header_names
from memory_analysis.loadgen.stats import EndpointStats, RunStats
from memory_analysis.reports.jsonio import JsonLinesStream, read_json, write_json_atomic

#: how long a worker may take to start (import aiohttp, build its engine)
WORKER_START_S = 60.0
#: after a stop, how long workers get to write their reports before being killed
WORKER_STOP_S = 15.0


class View(Protocol):
    def started(self, info: dict[str, Any]) -> None: ...
    def progress(self, status: dict[str, Any]) -> None: ...
    def finished(self, report: dict[str, Any], path: str) -> None: ...
    def close(self) -> None: ...


class Outcome:
    """What the CLI needs: the report, where it went, and how the run ended."""

    def __init__(self, report: dict[str, Any], path: str, signum: int | None,
                 broken: list[dict[str, Any]]) -> None:
        self.report = report
        self.path = path
        self.signum = signum
        self.broken = broken


def effective_workers(config: LoadConfig) -> int:
    """Worker processes per shard: never more than the shard has users (closed model)."""
    if config.open_model:
        return config.workers
    return max(1, min(config.workers, config.users // config.shard[1]))


def config_record(config: LoadConfig, scenario: Scenario, workers: int) -> dict[str, Any]:
    """The report's ``config`` block."""
    return {
        "url": config.url, "users": config.users,
        "requests_per_user": config.requests_per_user, "duration_s": config.duration_s,
        "rate": config.rate, "workers": workers, "shard": f"{config.shard[0]}/{config.shard[1]}",
        "repeat": config.repeat, "ramp_up_s": config.ramp_up_s,
        "think_time_s": list(config.think_time_s) if config.think_time_s else None,
        "max_in_flight": config.in_flight_limit, "timeout_s": config.timeout_s,
        "seed": config.seed, "scenario": scenario.source,
        "endpoints": list(config.endpoints) if config.endpoints is not None else None,
        "headers": header_names(config.headers),  # names only: values may be secrets
        "model": "open" if config.open_model else "closed",
        "event_loop": eventloop.loop_name(),
    }


def run_load_test(config: LoadConfig, scenario: Scenario, view: View) -> Outcome:
    """The whole test, start to report file. Raises BadInput/RunFailed before any load."""
    config.validate()
    # A request to finish before the load runs, or after, has nothing to end (and would
    # otherwise kill the process before it writes its report).
    signal.signal(FINISH_SIGNAL, signal.SIG_IGN)
    workers = effective_workers(config)
    shard_index, shard_count = config.shard
    slots = shard_count * workers
    first_slot = (shard_index - 1) * workers
    record = config_record(config, scenario, workers)
    signum = _preflight_interruptible(config)
    if signum is not None:
        # Stopped before the first request: the report still says so, with nothing in it.
        empty = RunStats([EndpointStats(e.name, e.method, e.path, e.category, e.weight)
                          for e in scenario.endpoints])
        report = build_report(empty, record, complete=False, end_reason="interrupted",
                              target_shares=scenario.category_shares())
        write_json_atomic(config.output, report)
        view.finished(report, config.output)
        return Outcome(report, config.output, signum, [])
    view.started({"config": record, "endpoints": len(scenario.endpoints),
                  "scenario": record["scenario"]})
    stream = JsonLinesStream(timeline_path(config.output))
    # Wall-clock start and end of the load, so a memory monitor's samples can be matched
    # to the moments requests were really being sent.
    started_at = time.time()

    def on_tick(status: dict[str, Any]) -> None:
        # ``time``: when the row was written (wall clock), so a reader of the stream knows
        # on its own clock when the load started (the earliest time - t).
        stream.write({"t": status["t"], "time": round(time.time(), 3),
                      "requests": status["interval_requests"],
                      "failures": status["interval_failures"], "p50_ms": status["p50_ms"],
                      "p95_ms": status["p95_ms"], "in_flight": status["in_flight"]})
        view.progress(status)

    try:
        if workers == 1:
            stats, end_reason, signum = eventloop.run(
                _run_in_process(config, scenario, first_slot, slots, on_tick))
            warnings: list[str] = []
        else:
            stats, end_reason, signum, warnings = eventloop.run(
                _run_workers(config, scenario, first_slot, slots, workers, on_tick))
    finally:
        stream.close()
    ended_at = time.time()
    complete = end_reason in ("finished", "duration", "ended") and not warnings
    report = build_report(stats, record, complete=complete, end_reason=end_reason,
                          target_shares=scenario.category_shares(), extra_warnings=warnings)
    report["started_at"] = round(started_at, 3)
    report["ended_at"] = round(ended_at, 3)
    broken = apply_thresholds(report, config.max_error_rate, config.max_p95_ms)
    write_json_atomic(config.output, report)
    view.finished(report, config.output)
    return Outcome(report, config.output, signum, broken)


def _preflight_interruptible(config: LoadConfig) -> int | None:
    """Run the pre-flight check; the signal number if SIGINT or SIGTERM came during it.

    The engine installs its own graceful handlers once the load starts; until then a
    signal would end the process without a report.
    """
    received: list[int] = []

    def note(signum: int, _frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        eventloop.run(preflight(config.url, config.timeout_s))
    except KeyboardInterrupt:
        return received[0] if received else signal.SIGINT
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return None


def timeline_path(output: str) -> str:
    """Where the per-second rows stream during the run: ``<report stem>.timeline.jsonl``."""
    path = Path(output)
    return str(path.with_name(path.stem + ".timeline.jsonl"))


def _install_stop(stop: Any, finish: Callable[[], None]) -> list[int]:
    """SIGINT and SIGTERM call ``stop(signum)``; ``FINISH_SIGNAL`` calls ``finish()``."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    handlers = [(signal.SIGINT, stop, (signal.SIGINT,)), (signal.SIGTERM, stop, (signal.SIGTERM,)),
                (FINISH_SIGNAL, finish, ())]
    for signum, handler, args in handlers:
        try:
            loop.add_signal_handler(signum, handler, *args)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    return installed


def _remove_stop(installed: list[int]) -> None:
    loop = asyncio.get_running_loop()
    for signum in installed:
        loop.remove_signal_handler(signum)
    signal.signal(FINISH_SIGNAL, signal.SIG_IGN)  # not back to the default: that kills


async def _run_in_process(config: LoadConfig, scenario: Scenario, slot: int, slots: int,
                          on_tick: Callable[[dict[str, Any]], None]
                          ) -> tuple[RunStats, str, int | None]:
    engine = Engine(config, scenario, slot=slot, slots=slots,
                    user_ids=users_for_slot(config, slot, slots), progress=on_tick)
    installed = _install_stop(engine.request_stop, engine.request_finish)
    try:
        stats, end_reason = await engine.run()
    finally:
        _remove_stop(installed)
    return stats, end_reason, engine.stop_signal


class _Progress:
    """Combines the workers' per-second ticks into one status (histograms added)."""

    def __init__(self, workers: int, on_tick: Callable[[dict[str, Any]], None]) -> None:
        self.workers = workers
        self.on_tick = on_tick
        self.pending: dict[int, list[dict[str, Any]]] = {}
        self.totals: dict[int, tuple[int, int, int]] = {}

    def tick(self, worker: int, tick: dict[str, Any], alive: int) -> None:
        self.totals[worker] = (tick["requests"], tick["failures"], tick["dropped"])
        batch = self.pending.setdefault(tick["t"], [])
        batch.append(tick)
        if len(batch) < alive:
            return
        del self.pending[tick["t"]]
        for old in [t for t in self.pending if t < tick["t"]]:
            del self.pending[old]
        hist = LatencyHistogram.merged(LatencyHistogram.decode(b["hist"]) for b in batch)
        p50, p95 = hist.quick_ms()
        self.on_tick({
            "t": tick["t"], "elapsed_s": max(b["elapsed_s"] for b in batch),
            "remaining_s": tick["remaining_s"],
            "requests": sum(v[0] for v in self.totals.values()),
            "failures": sum(v[1] for v in self.totals.values()),
            "dropped": sum(v[2] for v in self.totals.values()),
            "interval_requests": sum(b["interval_requests"] for b in batch),
            "interval_failures": sum(b["interval_failures"] for b in batch),
            "p50_ms": p50, "p95_ms": p95, "in_flight": sum(b["in_flight"] for b in batch),
            "cpu_percent": max(b["cpu_percent"] for b in batch),
        })


async def _run_workers(config: LoadConfig, scenario: Scenario, first_slot: int, slots: int,
                       workers: int, on_tick: Callable[[dict[str, Any]], None]
                       ) -> tuple[RunStats, str, int | None, list[str]]:
    tmp = tempfile.mkdtemp(prefix="load_tester.")
    procs: list[asyncio.subprocess.Process] = []
    signum_box: list[int] = []
    stop_event = asyncio.Event()

    def stop(signum: int) -> None:
        if not signum_box:
            signum_box.append(signum)
        stop_event.set()

    def finish() -> None:
        # Each worker ends its share as finished; the run ends when they have.
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(FINISH_SIGNAL)

    installed = _install_stop(stop, finish)
    try:
        results = [os.path.join(tmp, f"worker-{i}.json") for i in range(workers)]
        for i in range(workers):
            slot = first_slot + i
            job = {"config": config.to_dict(), "scenario": scenario.to_dict(),
                   "slot": slot, "slots": slots,
                   "user_ids": users_for_slot(config, slot, slots), "result": results[i]}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "memory_analysis.loadgen.worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                env=child_env(), start_new_session=False, limit=2**24)
            procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write((json.dumps(job) + "\n").encode())
            await proc.stdin.drain()
        # every worker ready before any load starts, so their timelines line up
        for i, proc in enumerate(procs):
            assert proc.stdout is not None
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), WORKER_START_S)
            except TimeoutError:
                line = b""
            if not line.startswith(b'{"type": "ready"'):
                raise RunFailed(f"worker {i} did not start: {line.decode(errors='replace')!r}")
            if stop_event.is_set():
                raise RunFailed("stopped before the load started")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        progress = _Progress(workers, on_tick)
        done: dict[int, str] = {}
        readers = [asyncio.ensure_future(_read_worker(i, proc, progress, done, workers))
                   for i, proc in enumerate(procs)]
        waiters = asyncio.ensure_future(asyncio.gather(*(p.wait() for p in procs)))
        stopper = asyncio.ensure_future(stop_event.wait())
        pending: set[asyncio.Future[Any]] = {waiters, stopper}
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if not waiters.done():
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            await asyncio.wait({waiters}, timeout=WORKER_STOP_S)
        stopper.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        _remove_stop(installed)

    merged: RunStats | None = None
    warnings: list[str] = []
    reasons: set[str] = set()
    try:
        for i, (proc, path) in enumerate(zip(procs, results, strict=False)):
            try:
                report = read_json(path, expect_tool="load_tester")
            except BadInput:
                warnings.append(f"worker {i} wrote no report (exit code {proc.returncode}); "
                                "its requests are missing from this report")
                continue
            reasons.add(report.get("end_reason", "finished"))
            stats = stats_from_report(report, f"worker {i}")
            if merged is None:
                merged = stats
            else:
                merged.add(stats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if merged is None:
        raise RunFailed("no worker process produced a report")
    signum = signum_box[0] if signum_box else None
    if signum is not None or "interrupted" in reasons:
        end_reason = "interrupted"
        if signum is None:
            signum = signal.SIGTERM
    elif "ended" in reasons:
        end_reason = "ended"
    elif "duration" in reasons:
        end_reason = "duration"
    else:
        end_reason = "finished"
    return merged, end_reason, signum, warnings


async def _read_worker(index: int, proc: asyncio.subprocess.Process, progress: _Progress,
                       done: dict[int, str], workers: int) -> None:
    assert proc.stdout is not None
    while True:
        line = await proc.stdout.readline()
        if not line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") == "tick":
            progress.tick(index, message, workers - len(done))
        elif message.get("type") == "done":
            done[index] = message.get("end_reason", "finished")
