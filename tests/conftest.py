"""Fixtures shared by the whole suite: real child processes, the project's paths, the
real runs tests share (``shared_runs``), and a check that the suite leaves the checkout
as it found it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import shared_runs
from shared_runs import PROGRAMS, ROOT, run_script  # noqa: F401 (tests import them here)

# The corpus of memory shapes with known answers is shared with the benchmarks.
sys.path.insert(0, str(ROOT / "bench"))
# The runs several test files read are declared there.
pytest_plugins = ["common_runs"]

PARALLEL = int(os.environ.get("SHARED_RUNS_PARALLEL", "3"))
_RUNS_TO_START = pytest.StashKey[list]()
_TREE_BEFORE = pytest.StashKey[set]()


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what will not run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    config.stash[_RUNS_TO_START] = shared_runs.order(items, PARALLEL)


@pytest.fixture(scope="session", autouse=True)
def _shared_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start every shared run a selected test reads, before the first test."""
    shared_runs.POOL.open(tmp_path_factory.mktemp("shared"), PARALLEL)
    for name in request.config.stash.get(_RUNS_TO_START, []):
        shared_runs.POOL.start(name)
    yield
    shared_runs.POOL.close()


def _tree_status() -> set[str] | None:
    """What differs in the checkout from its last commit, ignored files included
    (scripts/tree_changes.sh); None where it cannot tell (no git, not a checkout)."""
    try:
        result = subprocess.run([str(ROOT / "scripts" / "tree_changes.sh")], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(result.stdout.splitlines()) if result.returncode == 0 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    before = _tree_status()
    if before is not None:
        session.config.stash[_TREE_BEFORE] = before


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    spans = shared_runs.POOL.spans
    if spans and config.getoption("durations", None) is not None:
        terminalreporter.write_sep("=", "shared runs (seconds after the session started)")
        for name, start, end in sorted(spans, key=lambda span: span[1]):
            terminalreporter.write_line(f"{start:6.1f} - {end:6.1f}  {end - start:5.1f}  {name}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Nothing a test or a run does may write into the checkout: every run writes in
    its own directory. A file left behind fails the session, named."""
    before = session.config.stash.get(_TREE_BEFORE, None)
    after = _tree_status()
    if before is None or after is None:
        return
    left = sorted(after - before)
    if left:
        sys.stderr.write("\nthe tests left these in the checkout (git status):\n"
                         + "".join(f"  {line}\n" for line in left))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class MemHog:
    """A real child process (tests/programs/memhog.py) that allocates on command."""

    def __init__(self, preexec_fn=None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PROGRAMS / "memhog.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            preexec_fn=preexec_fn,
        )
        self.pid = self.proc.pid

    def send(self, command: str) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", f"memhog answered {answer!r} to {command!r}"

    def send_nowait(self, command: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send_nowait("exit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def memhog():
    hogs: list[MemHog] = []

    def start(**kwargs) -> MemHog:
        hog = MemHog(**kwargs)
        hogs.append(hog)
        return hog

    yield start
    for hog in hogs:
        hog.stop()
