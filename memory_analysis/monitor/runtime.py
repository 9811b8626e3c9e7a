"""Which runtime a service runs on, from its processes in /proc: one of ``RUNTIMES``.

The advice a report gives depends on it (tracemalloc means nothing to a Node.js
service, nor ``--max-old-space-size`` to a Python one), and so does whether the
in-process agent, which lives in CPython only, can report at all.

A process is judged by its executable (``/proc/PID/exe``; its command line's first word
when that link is not readable, as for another user's process):

- ``python``, ``python3``, ``python3.12`` ... : ``cpython`` (so are uvicorn, gunicorn and
  any script whose interpreter is one of these: the executable is the interpreter);
  PyPy is ``other`` (no pymalloc, no tracemalloc);
- ``node``, ``nodejs``: ``node``; ``java``: ``jvm``;
- an ELF executable with a section Go's linker writes (``.go.buildinfo``, or the build
  ID note ``.note.go.buildid``; both survive ``-ldflags=-s -w``): ``go``;
- a program that embeds a runtime (uWSGI embeds CPython, jsvc the JVM) by the library
  mapped into it (``libpython3``, ``libjvm.so``, ``libnode.so``);
- anything else: ``other``.

Shells and launchers that only start the service (``sh -c 'cd app && node server.js'``,
``env``, ``tini``) decide nothing: the service is the first process below them that is
something else, so a compound ``--service-cmd`` is judged by the service, not its shell.
Each process is read once (``RuntimeFinder`` keeps the answers); reading is a readlink,
a command line, at most the ELF section table, and, for an unknown executable, its maps.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from memory_analysis.monitor import procfs
from memory_analysis.monitor.procfs import ProcessGone

RUNTIMES = ("cpython", "node", "jvm", "go", "other")

# Process names of the shells a service command may run under.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "busybox"})
# Programs that start another program and serve nothing themselves.
LAUNCHERS = frozenset({"env", "tini", "dumb-init", "nohup", "nice", "setsid", "timeout",
                       "stdbuf", "taskset", "ionice", "chrt", "su", "sudo", "runuser",
                       "setpriv"})
# Names a Python server may give its processes (setproctitle), seen in a command line
# when the executable cannot be read.
PYTHON_TITLES = ("gunicorn", "uvicorn", "hypercorn", "daphne", "celery", "uwsgi")
# ELF sections only Go's linker writes.
GO_SECTIONS = frozenset({b".go.buildinfo", b".note.go.buildid"})
# Libraries by which a program embedding a runtime is known (in /proc/PID/maps).
EMBEDDED = (("/libpython3", "cpython"), ("/libjvm.so", "jvm"), ("/libnode.so", "node"))
# Bounds on what is read of an executable: real ELF section tables are far smaller.
MAX_SECTIONS = 4096
MAX_SECTION_NAMES = 1 << 20


@dataclass(frozen=True)
class Runtime:
    """The service's runtime, and the process it was told by (its PID and executable's
    name)."""

    runtime: str
    pid: int
    executable: str | None

    def as_dict(self) -> dict[str, object]:
        return {"runtime": self.runtime, "pid": self.pid, "executable": self.executable}


def _name_runtime(name: str) -> str | None:
    """The runtime an executable's (or process title's) name says, if any."""
    if name.startswith("python"):
        return "cpython"
    if name in ("node", "nodejs"):
        return "node"
    if name == "java":
        return "jvm"
    return None


def is_go_executable(path: str) -> bool:
    """True when ``path`` is an ELF file with a section only Go's linker writes. False
    for anything else, including a file that cannot be read or parsed."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF" or header[4] not in (1, 2):
                return False
            order = "<" if header[5] == 1 else ">"
            wide = header[4] == 2
            if wide:
                (shoff,) = struct.unpack_from(order + "Q", header, 0x28)
                entsize, count, names_index = struct.unpack_from(order + "HHH", header, 0x3A)
            else:
                (shoff,) = struct.unpack_from(order + "I", header, 0x20)
                entsize, count, names_index = struct.unpack_from(order + "HHH", header, 0x2E)
            if not shoff or not 0 < count <= MAX_SECTIONS or names_index >= count \
                    or entsize < (64 if wide else 40):
                return False
            handle.seek(shoff)
            table = handle.read(entsize * count)
            if len(table) < entsize * count:
                return False

            def section(index: int) -> tuple[int, int, int]:
                """(name offset, file offset, size) of one section header."""
                at = index * entsize
                if wide:
                    (name,) = struct.unpack_from(order + "I", table, at)
                    offset, size = struct.unpack_from(order + "QQ", table, at + 0x18)
                else:
                    (name,) = struct.unpack_from(order + "I", table, at)
                    offset, size = struct.unpack_from(order + "II", table, at + 0x10)
                return name, offset, size

            _, names_at, names_size = section(names_index)
            handle.seek(names_at)
            names = handle.read(min(names_size, MAX_SECTION_NAMES))
    except (OSError, struct.error):
        return False
    for index in range(count):
        start = section(index)[0]
        end = names.find(b"\0", start)
        if names[start:end if end >= 0 else None] in GO_SECTIONS:
            return True
    return False


def executable_runtime(path: str, name: str | None = None) -> str | None:
    """The runtime an executable file is for, by its name (``name``, default the
    basename of ``path``) or, for Go, its ELF sections; None when neither tells."""
    found = _name_runtime(name if name is not None else os.path.basename(path))
    if found is None and is_go_executable(path):
        found = "go"
    return found


def _embedded(pid: int) -> str | None:
    """The runtime whose library is mapped into the process, if any."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                for library, runtime in EMBEDDED:
                    if library in line:
                        return runtime
    except OSError:
        pass
    return None


def process_runtime(pid: int) -> tuple[str | None, str | None]:
    """(runtime, executable's name) of one process; the runtime is None for a shell or
    launcher that only starts the service (the service is below it). ProcessGone when
    there is no such process."""
    try:
        exe: str | None = os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        raise ProcessGone(pid) from None
    except OSError:
        exe = None  # another user's process, or a kernel thread
    cmdline = procfs.read_cmdline(pid)
    if exe is not None:
        exe = exe.removesuffix(" (deleted)")  # upgraded on disk since it started
        name = os.path.basename(exe)
    else:
        name = os.path.basename(cmdline[0]) if cmdline else ""
    if name in SHELLS or name in LAUNCHERS:
        return None, name
    if exe is not None:
        # Read through the link: the very file the process runs, whatever its mount.
        found = executable_runtime(f"/proc/{pid}/exe", name)
    else:
        found = _name_runtime(name)
        if found is None and cmdline and cmdline[0].startswith(PYTHON_TITLES):
            found = "cpython"  # a process title (``gunicorn: worker [app]``), not a path
    if found is None:
        found = _embedded(pid) or "other"
    return found, name or None


class RuntimeFinder:
    """Finds the service's runtime among a process tree's members, reading each process
    once."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[str | None, str | None]] = {}

    def find(self, pids: Iterable[int]) -> Runtime | None:
        """The runtime of the first process in ``pids`` (the target first, then its
        descendants, parents before children) that is not a shell or launcher; None when
        every one is (the service not started yet below its shell)."""
        for pid in pids:
            if pid not in self._seen:
                try:
                    self._seen[pid] = process_runtime(pid)
                except ProcessGone:
                    continue
            runtime, executable = self._seen[pid]
            if runtime is not None:
                return Runtime(runtime, pid, executable)
        return None


def tree_order(pid: int, stats: dict[int, procfs.Stat]) -> list[int]:
    """``pid`` and its descendants in ``stats``, level by level, each level oldest first:
    the order in which ``RuntimeFinder.find`` looks for the service."""
    children: dict[int, list[int]] = {}
    for child, stat in stats.items():
        children.setdefault(stat.ppid, []).append(child)
    order, level = [pid], [pid]
    while level:
        level = sorted((c for p in level for c in children.get(p, ()) if c != pid),
                       key=lambda c: (stats[c].start_ticks, c))
        order += level
    return order


def service_runtime(pid: int, finder: RuntimeFinder | None = None) -> Runtime | None:
    """The runtime of the service whose tree starts at ``pid`` (see the module's text);
    None while only a shell or launcher is there. Reads the process table once."""
    stats, _ = procfs.scan_processes()
    return (finder or RuntimeFinder()).find(tree_order(pid, stats))
