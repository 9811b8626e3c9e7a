"""Real runs the tests share, made once per test session and in the background.

A real run of the runner (a service started, baselined, loaded and cooled down) takes
seconds to a minute, and most of that time is spent waiting on the clock. So each run
that tests only read is declared once, with ``@shared_run``, as a function of the
directory it may write in; the test session starts every declared run that a selected
test asks for (by naming it as a fixture) as soon as it starts, a few at a time beside
the tests that need no run, and a test that asks for one waits until it is done. Tests
that read shared runs are put after the others, in the order their runs are expected to
finish, so the waiting is rare.

A shared run is read, never changed: a test that must change a run's directory (draw
its pictures again, run another command into it) copies it first (``copy_of``). What a
run function raises fails every test that reads it, with that error.

``SHARED_RUNS_PARALLEL`` (default 3) sets how many run at once (a ``paced`` run, whose load
is held far under what the machine serves, goes beside them). Runs marked ``quiet``
(their verdict rests on rates measured against the clock) go last, together, with no
other run beside them.
"""

from __future__ import annotations

import heapq
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memory_analysis.runner.service import free_port  # noqa: F401 (the runs' modules use it)

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"

# -- phases: one definition each ---------------------------------------------------------
#: For runs that only need a few seconds of load: a report with every part in it.
SHORT = ["--baseline", "2", "--load-test", "4", "--cooldown", "2", "--interval", "0.25",
         "--users", "4"]
#: For runs whose verdict is tested: long enough for a trend, short enough for a suite.
VERDICT = ["--baseline", "3", "--load-test", "24", "--cooldown", "8", "--interval", "0.25"]


def phase_seconds(args: list[str]) -> dict[str, float]:
    """The phase lengths a command line asks for (``SHORT``, ``VERDICT``, ...)."""
    found = {}
    for option, phase in (("--baseline", "baseline"), ("--load-test", "load"),
                          ("--cooldown", "cooldown"), ("--interval", "interval")):
        found[phase] = float(args[args.index(option) + 1])
    return found


@dataclass
class Run:
    """A finished command: where it wrote, how it ended, what it printed."""

    out: Path
    returncode: int
    stdout: str
    stderr: str
    argv: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self, name: str = "comprehensive_memory_analysis.json") -> dict:
        return json.loads((self.out / name).read_text())

    def ok(self) -> Run:
        """This run, after checking it exited 0 (else the test fails with its output)."""
        assert self.returncode == 0, self.stdout + self.stderr
        return self


def run_program(argv: list[str], *, timeout: float = 60, cwd: str | Path | None = None,
                env: dict[str, str] | None = None,
                **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as a user would: from ``cwd`` (default: the repository), with
    ``env`` on top of this environment, its output captured as text."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or ROOT, env={**os.environ, **(env or {})}, **kwargs)


def run_script(script: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a top-level script of the project (``memory_monitor.py``, ...) as a user would."""
    return run_program([sys.executable, str(ROOT / script), *args], **kwargs)


def command(args: list[str], out: Path, *, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 240) -> Run:
    """Run ``args`` (a top-level script of the project when it ends in ``.py``, else a
    program) as a user would, stdin closed, as a ``Run`` whose reports are in ``out``."""
    argv = [sys.executable, str(ROOT / args[0]), *args[1:]] if args[0].endswith(".py") \
        else args
    result = run_program(argv, timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
    return Run(out, result.returncode, result.stdout, result.stderr, argv)


def runner(work: Path, *args: str, **kwargs: Any) -> Run:
    """memory_analysis_runner.py with ``args``, its reports in ``work / "out"``."""
    out = work / "out"
    return command(["memory_analysis_runner.py", *args, "--output-dir", str(out)], out,
                   **kwargs)


def copy_of(run: Run, where: Path) -> Path:
    """A copy of a shared run's directory, for a test that changes what is in it."""
    target = where / run.out.name
    shutil.copytree(run.out, target)
    return target


# -- the registry and the pool ---------------------------------------------------------------
_RUNS: dict[str, Callable[[Path], Any]] = {}
_SECONDS: dict[str, float] = {}
_QUIET: set[str] = set()
_PACED: set[str] = set()
# Paced runs going at once, beside the ``parallel`` places: each costs about a third of a
# core (a 24 s load at 1,000 requests a second took 12 s of CPU against 49 s at full
# speed), so four of them take about as much as one full-speed run.
PACED_PARALLEL = 4


def shared_run(func: Callable[[Path], Any] | None = None, *, seconds: float = 12,
               quiet: bool = False, paced: bool = False) -> Any:
    """Declare a shared run; a test reads it by naming ``func.__name__`` as a fixture.

    ``func(work)`` makes the run in ``work``, a new directory of its own (the runner's
    output directory is usually ``work / "out"``), and returns what the tests read
    (usually a ``Run``). ``seconds``: about how long it takes, so the longest start
    first. ``quiet``: a run whose figures are exact only on a machine nobody else keeps
    busy (a leak's rate and shape, measured against the clock); it waits until no
    other run is going or waiting, and quiet runs then go together (they are light).
    ``paced``: a run whose load is held to a rate far under what the machine serves, so
    it mostly waits: it goes beside the others in places of its own
    (``PACED_PARALLEL``), not one of the ``parallel`` ones."""
    if func is None:
        return lambda f: shared_run(f, seconds=seconds, quiet=quiet, paced=paced)
    name = func.__name__
    if name in _RUNS and _RUNS[name] is not func:
        raise ValueError(f"two shared runs are named {name}")
    _RUNS[name] = func
    _SECONDS[name] = seconds
    if quiet:
        _QUIET.add(name)
    if paced:
        _PACED.add(name)

    @pytest.fixture(scope="session", name=name)
    def fixture() -> Any:
        return POOL.result(name)

    fixture.__doc__ = func.__doc__
    return fixture


class Pool:
    """Runs the shared runs, each in a thread of its own (their work is in child
    processes), at most ``parallel`` at once, quiet ones alone together; hands each
    one's result to the tests that wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Any]] = {}
        self._waiting: list[str] = []
        self._running: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._base: Path | None = None
        self._parallel = 1
        self._opened = 0.0
        # (name, start, end) of each run, seconds after the pool opened: what the
        # session summary shows, to see where a slow suite waited.
        self.spans: list[tuple[str, float, float]] = []

    def open(self, base: Path, parallel: int) -> None:
        self._base = base
        self._parallel = max(parallel, 1)
        self._opened = time.monotonic()

    def start(self, name: str) -> Future[Any]:
        with self._lock:
            if name not in self._futures:
                if self._base is None:
                    raise RuntimeError("shared runs are started by the test session")
                self._futures[name] = Future()
                self._waiting.append(name)
                self._dispatch()
            return self._futures[name]

    def result(self, name: str) -> Any:
        """Wait for a run's result (the test's own timeout bounds the wait)."""
        future = self.start(name)
        with self._lock:
            self._dispatch()
        return future.result()

    def _may_start(self, name: str) -> bool:
        if name not in _PACED and len(self._running - _PACED) >= self._parallel:
            return False
        if name in _PACED and len(self._running & _PACED) >= PACED_PARALLEL:
            return False
        if name in _QUIET:
            # Once no other run is going or waiting: the tests that need no run may still
            # be going, one at a time (they use a core at most), as they did beside every
            # other run; waiting for them too left both cores half idle for 100 s.
            others = [n for n in (*self._running, *self._waiting) if n not in _QUIET]
            return not others
        return not any(n in _QUIET for n in self._running)

    def _dispatch(self) -> None:
        """Start what may start now, in the order asked (called with the lock held)."""
        assert self._base is not None
        for name in list(self._waiting):
            if self._may_start(name):
                self._waiting.remove(name)
                self._running.add(name)
                work = self._base / name
                work.mkdir()
                thread = threading.Thread(target=self._run, args=(name, work),
                                          name=f"shared-run-{name}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _run(self, name: str, work: Path) -> None:
        future = self._futures[name]
        started = time.monotonic()
        try:
            future.set_result(_RUNS[name](work))
        except BaseException as exc:  # every test that reads the run fails with it
            future.set_exception(exc)
        finally:
            with self._lock:
                self._running.discard(name)
                self.spans.append((name, started - self._opened, time.monotonic() - self._opened))
                self._dispatch()

    def close(self) -> None:
        """Drop runs not started; wait for those going (each ends within its own
        timeouts)."""
        with self._lock:
            for name in self._waiting:
                self._futures[name].cancel()
            self._waiting.clear()
        for thread in self._threads:
            thread.join()


POOL = Pool()


def runs_of(item: pytest.Item) -> list[str]:
    """The shared runs a test reads: fixtures it names, directly or through its own
    fixtures, and ``@pytest.mark.reads_runs(NAME, ...)`` (for a run a parameter picks,
    read with ``request.getfixturevalue``)."""
    names = [name for name in getattr(item, "fixturenames", ()) if name in _RUNS]
    for mark in item.iter_markers("reads_runs"):
        names.extend(name for name in mark.args if name in _RUNS and name not in names)
    return names


def order(items: list[pytest.Item], parallel: int) -> list[str]:
    """Return the runs the selected tests read, in the order to start them (the longest
    first, so they finish about together), and put the tests that read them after the
    others, in the order their runs are expected to finish."""
    started = sorted({name for item in items for name in runs_of(item)},
                     key=lambda name: (-_SECONDS[name], name))
    free_at = [0.0] * max(parallel, 1)
    paced_free_at = [0.0] * PACED_PARALLEL
    done_at: dict[str, float] = {}
    for name in started:  # each on the first worker free; quiet ones after all others
        if name in _PACED:  # beside the workers, in places of their own
            done_at[name] = heapq.heappop(paced_free_at) + _SECONDS[name]
            heapq.heappush(paced_free_at, done_at[name])
        elif name not in _QUIET:
            done_at[name] = heapq.heappop(free_at) + _SECONDS[name]
            heapq.heappush(free_at, done_at[name])
    for name in started:
        if name in _QUIET:
            done_at[name] = max(free_at) + _SECONDS[name]
    items.sort(key=lambda item: max((done_at[n] for n in runs_of(item)), default=0.0))
    return started
