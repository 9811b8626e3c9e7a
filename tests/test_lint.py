"""The code base stays clean: ruff's lint rules and mypy's types, as configured in
pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_ruff_finds_nothing():
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    result = run_tool("mypy", "memory_analysis")
    assert result.returncode == 0, result.stdout + result.stderr
