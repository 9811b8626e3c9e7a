"""The project's own set-up: the interpreter it refuses, and one list of dependencies."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib

from conftest import ROOT


def test_setup_refuses_a_python_older_than_the_project_needs(tmp_path):
    """ensure_venv.sh names the version it found and the one needed, in one line, and
    makes no environment. This Python (3.11+) is made too old by asking for 3.99."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        text.replace('requires-python = ">=3.11"', 'requires-python = ">=3.99"'))
    (tmp_path / "run_tests.sh").write_text("source scripts/ensure_venv.sh && ensure_venv\n")
    result = subprocess.run(
        ["bash", "run_tests.sh"], cwd=tmp_path,
        env={**os.environ, "PYTHON": "python3"}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    found = subprocess.run(["python3", "-c", "import platform; print(platform.python_version())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert lines[0].startswith(f"run_tests.sh: error: python3 is Python {found}; the suite "
                               "needs Python 3.99 or newer"), lines[0]
    assert not (tmp_path / ".venv").exists()


def test_the_package_lists_the_files_the_scripts_install():
    """One list each: pyproject.toml takes its dependencies and its test extra from the
    requirement files run_memory_analysis.sh and run_tests.sh install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(project["project"]["dynamic"]) == {"dependencies", "optional-dependencies"}
    assert "dependencies" not in project["project"]
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"]["file"] == ["memory_analysis_requirements.txt"]
    assert dynamic["optional-dependencies"]["test"]["file"] == ["requirements-test.txt"]
    assert "ensure_venv memory_analysis_requirements.txt requirements-test.txt" in \
        (ROOT / "run_tests.sh").read_text()
    assert "ensure_venv memory_analysis_requirements.txt" in \
        (ROOT / "run_memory_analysis.sh").read_text()
    manifest = (ROOT / "MANIFEST.in").read_text()
    assert "memory_analysis_requirements.txt" in manifest and "requirements-test.txt" in manifest
