"""Real runs the tests share, made once per test session and in the background.

A real run of the runner (a service started, baselined, loaded and cooled down) takes
seconds to a minute, and most of that time is spent waiting on the clock. So each run
that tests only read is declared once, with ``@shared_run``, as a function of the
directory it may write in; the test session starts every declared run that a selected
test asks for (by naming it as a fixture) as soon as it starts, a few at a time beside
the tests that need no run, and a test that asks for one waits until it is done. Tests
that read shared runs are put after the others, in the order their runs were started,
so the waiting is rare.

A shared run is read, never changed: a test that must change a run's directory (draw
its pictures again, run another command into it) copies it first (``copy_of``). What a
run function raises fails every test that reads it, with that error.

``SHARED_RUNS_PARALLEL`` (default 3) sets how many run at once.
"""

from __future__ import annotations

import heapq
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

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
        import json

        return json.loads((self.out / name).read_text())

    def ok(self) -> Run:
        """This run, after checking it exited 0 (else the test fails with its output)."""
        assert self.returncode == 0, self.stdout + self.stderr
        return self


def command(args: list[str], out: Path, *, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 240) -> Run:
    """Run ``args`` (a top-level script of the project when it ends in ``.py``, else a
    program) as a user would, from ``cwd`` (default: the repository), stdin closed."""
    argv = [sys.executable, str(ROOT / args[0]), *args[1:]] if args[0].endswith(".py") \
        else args
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            cwd=cwd or ROOT, env={**os.environ, **(env or {})},
                            stdin=subprocess.DEVNULL)
    return Run(out, result.returncode, result.stdout, result.stderr, argv)


def runner(work: Path, *args: str, **kwargs: Any) -> Run:
    """memory_analysis_runner.py with ``args``, its reports in ``work / "out"``."""
    out = work / "out"
    return command(["memory_analysis_runner.py", *args, "--output-dir", str(out)], out,
                   **kwargs)


def free_port() -> int:
    from memory_analysis.runner.service import free_port as pick

    return pick()


def copy_of(run: Run, where: Path) -> Path:
    """A copy of a shared run's directory, for a test that changes what is in it."""
    target = where / run.out.name
    shutil.copytree(run.out, target)
    return target


# -- the registry and the pool ---------------------------------------------------------------
_RUNS: dict[str, Callable[[Path], Any]] = {}
_SECONDS: dict[str, float] = {}


def shared_run(func: Callable[[Path], Any] | None = None, *, seconds: float = 12) -> Any:
    """Declare a shared run; a test reads it by naming ``func.__name__`` as a fixture.

    ``func(work)`` makes the run in ``work``, a new directory of its own (the runner's
    output directory is usually ``work / "out"``), and returns what the tests read
    (usually a ``Run``). ``seconds``: about how long it takes, so the
    longest start first."""
    if func is None:
        return lambda f: shared_run(f, seconds=seconds)
    name = func.__name__
    if name in _RUNS and _RUNS[name] is not func:
        raise ValueError(f"two shared runs are named {name}")
    _RUNS[name] = func
    _SECONDS[name] = seconds

    @pytest.fixture(scope="session", name=name)
    def fixture() -> Any:
        return POOL.result(name)

    fixture.__doc__ = func.__doc__
    return fixture


class Pool:
    """Starts shared runs in worker threads (their work is in child processes) and
    hands each one's result to the tests that wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Any]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._base: Path | None = None

    def open(self, base: Path, parallel: int) -> None:
        self._base = base
        self._executor = ThreadPoolExecutor(max_workers=parallel,
                                            thread_name_prefix="shared-run")

    def start(self, name: str) -> Future[Any]:
        with self._lock:
            if name not in self._futures:
                if self._executor is None or self._base is None:
                    raise RuntimeError("shared runs are started by the test session")
                work = self._base / name
                work.mkdir()
                self._futures[name] = self._executor.submit(_RUNS[name], work)
            return self._futures[name]

    def result(self, name: str) -> Any:
        # The test's own timeout (pytest-timeout) bounds the wait.
        return self.start(name).result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


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
    done_at: dict[str, float] = {}
    for name in started:  # each on the first worker free
        done_at[name] = heapq.heappop(free_at) + _SECONDS[name]
        heapq.heappush(free_at, done_at[name])
    items.sort(key=lambda item: max((done_at[n] for n in runs_of(item)), default=0.0))
    return started
