"""The service's runtime, told from its real processes (monitor.runtime), and the roles
the sampler gives the processes of a tree."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_runs import run_script

from memory_analysis.monitor.report import stream_path_for
from memory_analysis.monitor.runtime import (
    executable_runtime,
    is_go_executable,
    process_runtime,
    service_runtime,
)
from memory_analysis.monitor.sampler import TreeSampler

PYTHON = shlex.quote(sys.executable)
# A Python program that says "ready" once running, then waits for its stdin to close.
WAIT_PY = "import sys; print('ready', flush=True); sys.stdin.read()"
WAIT_JS = ("process.stdout.write('ready\\n'); process.stdin.resume(); "
           "process.stdin.on('end', () => process.exit(0));")
# Forks one child, then waits: a master and its worker.
FORK_PY = ("import os, sys; pid = os.fork()\n"
           "if pid == 0: sys.stdin.read(); os._exit(0)\n"
           "print('ready', flush=True); sys.stdin.read(); os.waitpid(pid, 0)")


@pytest.fixture
def spawn() -> Iterator:
    """Start a program whose stdin is a pipe, and wait for its "ready" line; each is
    killed at the end."""
    started: list[subprocess.Popen] = []

    def start(argv: list[str], ready: bool = True) -> subprocess.Popen:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True, start_new_session=True)
        started.append(process)
        if ready:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in started:
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait()


def test_a_python_process_is_cpython(spawn):
    python = spawn([sys.executable, "-c", WAIT_PY])
    found = service_runtime(python.pid)
    assert found is not None and found.runtime == "cpython" and found.pid == python.pid
    assert found.executable.startswith("python")


def test_a_node_process_is_node(spawn):
    node = spawn(["node", "-e", WAIT_JS])
    found = service_runtime(node.pid)
    assert found is not None and (found.runtime, found.pid) == ("node", node.pid)


def test_a_shell_is_judged_by_the_service_it_runs(spawn):
    # "; true" keeps the shell as the parent of python (a last command alone is exec'd).
    shell = spawn(["/bin/sh", "-c", f"cd . && {PYTHON} -c \"{WAIT_PY}\"; true"])
    found = service_runtime(shell.pid)
    assert found is not None and found.runtime == "cpython"
    assert found.pid != shell.pid and found.executable.startswith("python")
    assert process_runtime(shell.pid)[0] is None  # the shell alone decides nothing


def test_a_shell_whose_service_has_not_started_tells_nothing_yet(spawn):
    shell = spawn(["/bin/sh", "-c", "read line; exit 0"], ready=False)
    assert service_runtime(shell.pid) is None


def test_the_monitor_finds_a_service_started_after_it_below_its_shell(spawn, tmp_path):
    """The monitor attached to a shell before the service under it starts: the report's
    runtime is the service's, found in the tree as it grows."""
    shell = spawn(["/bin/sh", "-c", f"read line; {PYTHON} -c \"{WAIT_PY}\"; true"],
                  ready=False)
    output = tmp_path / "m.json"
    monitor = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent.parent / "memory_monitor.py"),
         "--pid", str(shell.pid), "--duration", "1.5", "--interval", "0.25",
         "--pss-interval", "0.25", "-o", str(output), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stream = Path(stream_path_for(output))
    deadline = time.monotonic() + 30
    while not (stream.exists() and len(stream.read_text().splitlines()) >= 2):
        assert time.monotonic() < deadline and monitor.poll() is None
        time.sleep(0.02)
    header = json.loads(stream.read_text().splitlines()[0])
    assert header["target"]["runtime"] is None  # only the shell so far
    assert shell.stdin is not None and shell.stdout is not None
    shell.stdin.write("go\n")
    shell.stdin.flush()
    assert shell.stdout.readline().strip() == "ready"
    _, err = monitor.communicate(timeout=60)
    assert monitor.returncode == 0, err
    target = json.loads(output.read_text())["target"]
    assert target["runtime"] == "cpython" and target["is_python"] is True
    assert target["runtime_process"]["pid"] != shell.pid


def test_a_monitor_on_a_node_service_says_node_and_no_agent_note(spawn, tmp_path):
    node = spawn(["node", "-e", WAIT_JS])
    output = tmp_path / "n.json"
    result = run_script("memory_monitor.py", "--pid", str(node.pid), "--duration", "0.5",
                        "--interval", "0.25", "--agent-dir", str(tmp_path / "agent"),
                        "-o", str(output))
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    assert report["target"]["runtime"] == "node" and report["target"]["is_python"] is False
    assert not any("MEMORY_ANALYSIS_AGENT" in note for note in report["notes"])


def _elf64(sections: list[bytes]) -> bytes:
    """A minimal little-endian ELF64 file: a header and a table of empty sections
    named ``sections`` (after the null one), the last one the names' table."""
    names = b"\0" + b"".join(name + b"\0" for name in [*sections, b".shstrtab"])
    offsets, at = [], 1
    for name in [*sections, b".shstrtab"]:
        offsets.append(at)
        at += len(name) + 1
    count = len(sections) + 2
    names_at = 64
    table_at = names_at + len(names)
    header = (b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
              + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, table_at, 0, 64, 0, 0, 64,
                            count, count - 1))
    table = bytes(64)  # the null section
    for index, name_at in enumerate(offsets):
        last = index == len(offsets) - 1
        table += struct.pack("<IIQQQQIIQQ", name_at, 3 if last else 1, 0, 0,
                             names_at if last else 0, len(names) if last else 0, 0, 0, 1, 0)
    return header + names + table


@pytest.mark.parametrize("sections, go", [
    ([b".text", b".go.buildinfo"], True),
    ([b".note.go.buildid", b".text"], True),
    ([b".text", b".data", b".go.notreally"], False),
])
def test_go_is_told_by_the_sections_its_linker_writes(tmp_path, sections, go):
    path = tmp_path / "service"
    path.write_bytes(_elf64(sections))
    assert is_go_executable(str(path)) is go
    assert executable_runtime(str(path)) == ("go" if go else None)
    # Cut short, it is no executable at all.
    path.write_bytes(_elf64(sections)[:100])
    assert is_go_executable(str(path)) is False


def test_a_real_elf_with_a_go_section_is_go_and_common_binaries_are_not(tmp_path):
    assert is_go_executable("/bin/true") is False
    assert is_go_executable(str(Path(__file__))) is False  # not ELF at all
    assert is_go_executable(str(tmp_path / "missing")) is False
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("objcopy is not installed")
    (tmp_path / "info").write_bytes(b"\xff Go buildinf:")
    made = tmp_path / "fake_go"
    subprocess.run([objcopy, f"--add-section=.go.buildinfo={tmp_path / 'info'}",
                    "/bin/true", str(made)], check=True)
    assert executable_runtime(str(made)) == "go"


def test_executables_by_name():
    assert executable_runtime("/usr/lib/jvm/java-17-openjdk-amd64/bin/java") == "jvm"
    assert executable_runtime("/usr/bin/node") == "node"
    assert executable_runtime("/usr/bin/python3.12") == "cpython"
    assert executable_runtime("/bin/true") is None


def _roles(pid: int) -> dict[int, str]:
    sampler = TreeSampler(pid, pss_interval=0.01)
    try:
        processes = sampler.sample(time.monotonic())["processes"]
    finally:
        sampler.close()
    return {int(p): record["role"] for p, record in processes.items()}


def test_a_lone_process_is_a_service_and_one_with_workers_their_master(spawn):
    alone = spawn([sys.executable, "-c", WAIT_PY])
    assert _roles(alone.pid) == {alone.pid: "service"}
    master = spawn([sys.executable, "-c", FORK_PY])
    roles = _roles(master.pid)
    assert roles.pop(master.pid) == "master" and list(roles.values()) == ["worker"]


def test_below_a_shell_a_lone_process_is_a_service(spawn):
    shell = spawn(["/bin/sh", "-c", f"cd . && {PYTHON} -c \"{WAIT_PY}\"; true"])
    roles = _roles(shell.pid)
    assert roles.pop(shell.pid) == "wrapper" and list(roles.values()) == ["service"]
