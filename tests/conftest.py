"""Fixtures shared by the whole suite: real child processes and the project's paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"
# The corpus of memory shapes with known answers is shared with the benchmarks.
sys.path.insert(0, str(ROOT / "bench"))


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


def run_script(script: str, *args: str, timeout: float = 60,
               **kwargs) -> subprocess.CompletedProcess:
    """Run a top-level script of the project as a user would, from the repository root."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True, text=True, timeout=timeout, cwd=kwargs.pop("cwd", ROOT),
        env={**os.environ, **kwargs.pop("env", {})}, **kwargs,
    )
