"""Run the service the runner starts inside a memory cgroup of a given size
(``--memory-limit``, ``--rehearse``, ``--find-minimum``): the memory it will get in
production, enforced by the same kernel code that OOM-kills it there.

Three ways, tried in this order:

- cgroup v2: a child group under a group whose ``cgroup.subtree_control`` has the memory
  controller (the v2 rule: processes live only in leaves), where the runner may write
  (as root, or in a subtree delegated to its user); ``memory.max``, ``memory.swap.max``.
- cgroup v1: a child of the runner's own memory group (``memory.limit_in_bytes``,
  ``memory.memsw.limit_in_bytes``).
- ``systemd-run --scope -p MemoryMax=``: where a systemd manager runs (the user's own
  for a user, the system's for root), which makes and removes the scope itself.

The service enters its group between fork and exec, so every process it starts is in
it from the start. Swap is off for the group unless asked (a rehearsal that swaps is
flattered: the plan's memory would not). The group is removed when the run ends,
whatever happened; a group left by a runner killed with ``kill -9`` (its name carries
the runner's PID and start time) is removed by the next run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from memory_analysis.errors import BadInput
from memory_analysis.monitor.cgroup import (
    CgroupReading,
    MemoryCgroup,
    cgroup_mounts,
    join_mount,
)
from memory_analysis.numbers import amount

# Every group this suite makes is named PREFIX + "<runner pid>-<its start time>-<n>".
PREFIX = "memory-analysis-run-"
# How long removing a group waits for its last processes to be torn down.
REMOVE_TIMEOUT_S = 5.0
_MB = 1024 * 1024


def _start_time(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (``/proc/PID/stat`` field 22):
    with its PID, it names one process for good (a PID alone is reused)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner_alive(name: str) -> bool:
    """Whether the runner that made the group ``name`` is still running."""
    parts = name[len(PREFIX):].split("-")
    if len(parts) < 2 or not parts[0].isdigit():
        return True  # not one of ours after all: leave it
    return _start_time(int(parts[0])) == parts[1]


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(value)


def _pids(directory: str) -> list[int]:
    try:
        with open(os.path.join(directory, "cgroup.procs"), encoding="ascii") as handle:
            return [int(line) for line in handle if line.strip()]
    except (OSError, ValueError):
        return []


def _remove_group(directory: str) -> bool:
    """Kill whatever is left in a group of ours and remove it; True once it is gone."""
    deadline = time.monotonic() + REMOVE_TIMEOUT_S
    while True:
        for pid in _pids(directory):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(directory)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            # EBUSY while a killed process is still being torn down.
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def _mount_of(directory: str) -> str:
    """The cgroup mount point ``directory`` is under (limits are looked up to it)."""
    v1, v2 = cgroup_mounts()
    points = [point for _root, point in [*v1.values(), *([v2] if v2 else [])]]
    return max((p for p in points if directory.startswith(p.rstrip("/") + "/")),
               key=len, default=os.path.dirname(directory))


def _host_has_swap() -> bool:
    try:
        with open("/proc/swaps", encoding="ascii") as handle:
            return len(handle.read().splitlines()) > 1
    except OSError:
        return False


@dataclass
class Place:
    """Where groups can be made: a parent directory, its cgroup version."""

    parent: str
    version: int


def _places() -> tuple[list[Place], list[str]]:
    """The directories this process could make a memory group in, best first, and why
    the others were ruled out (for the message when none works)."""
    v1, v2 = cgroup_mounts()
    places: list[Place] = []
    why: list[str] = []
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return [], ["/proc/self/cgroup cannot be read"]
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "" and v2 is not None:
            # v2: the nearest group at or above ours that hands the memory controller
            # to its children (the root always may: it is exempt from the leaf rule).
            directory = join_mount(v2, path)
            while directory.startswith(v2[1]):
                if _has_memory(directory, "cgroup.subtree_control") or (
                        directory == v2[1] and _has_memory(directory, "cgroup.controllers")):
                    places.append(Place(directory, 2))
                    break
                if directory == v2[1]:
                    why.append(f"cgroup v2 at {v2[1]} has no memory controller to hand down")
                    break
                directory = os.path.dirname(directory)
        elif "memory" in controllers.split(",") and "memory" in v1:
            places.append(Place(join_mount(v1["memory"], path), 1))
    if not places and not why:
        why.append("no memory cgroup is mounted")
    return places, why


def _has_memory(directory: str, name: str) -> bool:
    try:
        with open(os.path.join(directory, name), encoding="ascii") as handle:
            return "memory" in handle.read().split()
    except OSError:
        return False


def sweep_leftovers() -> list[str]:
    """Remove the groups of runners that are gone (killed before they could clean up),
    and whatever they still hold; the paths removed."""
    removed = []
    for place in _places()[0]:
        try:
            names = os.listdir(place.parent)
        except OSError:
            continue
        for name in names:
            path = os.path.join(place.parent, name)
            if name.startswith(PREFIX) and not _owner_alive(name) and _remove_group(path):
                removed.append(path)
    return removed


@dataclass
class MemoryLimit:
    """A memory group the service runs in: ``limit_mb`` (None: unlimited, which still
    measures the service as the kernel counts it), made by ``method`` ("cgroup v2",
    "cgroup v1" or "systemd-run"), at ``path`` (a directory, or a scope's name)."""

    limit_mb: float | None
    allow_swap: bool
    method: str = ""
    path: str = ""
    swap: str = ""
    swept: list[str] = field(default_factory=list)  # groups of dead runners removed
    left_behind: str | None = None  # the group, when it could not be removed
    _systemd: list[str] = field(default_factory=list)
    # The group's directory, read for its OOM kills, peak and pressure: ``path`` for a
    # group made here; for a systemd scope, found from the service's /proc/PID/cgroup.
    directory: str = ""
    version: int = 0
    service_pid: int | None = None
    _reader: MemoryCgroup | None = None
    _oom_kills_at_start: int = 0
    _made_at: float = 0.0

    # -- making it ---------------------------------------------------------------------
    def make(self) -> None:
        """Make the group (after removing those of runners killed before they could);
        BadInput saying what is needed when no way works here."""
        self.swept = sweep_leftovers()
        self._made_at = time.monotonic()
        places, why = _places()
        for number, place in enumerate(places):
            name = f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}-{number}"
            path = os.path.join(place.parent, name)
            try:
                os.mkdir(path)
            except FileExistsError:
                _remove_group(path)
                with contextlib.suppress(OSError):
                    os.mkdir(path)
            except OSError as exc:
                why.append(f"cannot make a group in {place.parent} ({exc.strerror or exc})")
                continue
            try:
                self._configure(path, place.version)
            except OSError as exc:
                _remove_group(path)
                why.append(f"cannot set the limit in {path} ({exc.strerror or exc})")
                continue
            self.method, self.path = f"cgroup v{place.version}", path
            self.directory, self.version = path, place.version
            self._oom_kills_at_start = self.oom_kills() or 0
            try:
                self.check_limit()
            except BadInput:
                self.remove()
                raise
            return
        systemd = self._systemd_command()
        if systemd:
            self.method, self._systemd = "systemd-run", systemd
            self.swap = "allowed" if self.allow_swap else "off"
            return
        why.append("no systemd manager to ask (systemd-run --scope)")
        raise BadInput("cannot run the service in a memory limit here: "
                       + "; ".join(why) + ". It needs a memory cgroup the runner may write: "
                       "run it as root, in a delegated cgroup v2 subtree, or where a systemd "
                       "user manager runs")

    def _configure(self, path: str, version: int) -> None:
        limit = None if self.limit_mb is None else str(int(self.limit_mb * _MB))
        if version == 2:
            if not os.path.exists(os.path.join(path, "memory.max")):
                # A cgroup namespace's root is no exception to the leaf rule: a group
                # there may come without the memory controller, and measures nothing.
                raise OSError(0, "the memory controller is not enabled for it")
            if limit is not None:
                _write(os.path.join(path, "memory.max"), limit)
            swap_file = os.path.join(path, "memory.swap.max")
            if self.allow_swap:
                self.swap = "allowed"
            elif os.path.exists(swap_file):
                _write(swap_file, "0")
                self.swap = "off"
            else:
                self.swap = "off" if not _host_has_swap() else "not limited (no swap control)"
            return
        if limit is not None:
            _write(os.path.join(path, "memory.limit_in_bytes"), limit)
        memsw = os.path.join(path, "memory.memsw.limit_in_bytes")
        if self.allow_swap:
            self.swap = "allowed"
        elif limit is not None and os.path.exists(memsw):
            _write(memsw, limit)  # memory + swap together: no room for swap
            self.swap = "off"
        elif not _host_has_swap():
            self.swap = "off"
        else:
            # Swap is not accounted here: the nearest v1 has is to prefer dropping cache.
            _write(os.path.join(path, "memory.swappiness"), "0")
            self.swap = "swappiness 0 (swap is not accounted on this host)"

    def _systemd_command(self) -> list[str]:
        """systemd-run's words for a scope with the limit, where a manager answers."""
        if shutil.which("systemd-run") is None:
            return []
        user = os.geteuid() != 0
        if user:
            runtime = os.environ.get("XDG_RUNTIME_DIR", "")
            if not runtime or not os.path.exists(os.path.join(runtime, "systemd", "private")):
                return []
        elif not os.path.isdir("/run/systemd/system"):
            return []
        unit = f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}"
        self.path = unit + ".scope"
        words = ["systemd-run", *(["--user"] if user else []), "--scope", "--quiet",
                 "--collect", f"--unit={unit}"]
        if self.limit_mb is not None:
            words += ["-p", f"MemoryMax={int(self.limit_mb * _MB)}"]
        if not self.allow_swap:
            words += ["-p", "MemorySwapMax=0"]
        return words + ["--"]

    # -- using it ----------------------------------------------------------------------
    def wrap(self, argv: list[str]) -> list[str]:
        """The command line that starts the service inside the group."""
        return self._systemd + argv

    def enter(self) -> Callable[[], None] | None:
        """What the service's process runs between fork and exec to enter the group
        (None for systemd-run, which moves it itself)."""
        if not self.path or self._systemd:
            return None
        procs = os.path.join(self.path, "cgroup.procs")

        def enter_group() -> None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)
        return enter_group

    def check_limit(self) -> None:
        """BadInput unless the group's limit is the one asked for: a group inside a
        container (or a scope of a user manager without memory delegation) may be held
        to less, or to none, whatever was written."""
        if not self._readable():
            if self._systemd and self.limit_mb is not None and self.service_pid is not None:
                raise BadInput("systemd-run made no memory group for the service (its "
                               "manager has no memory controller delegated): cannot "
                               "rehearse in a limit here")
            return
        reading = self._reading()
        if reading is None or self.limit_mb is None:
            return
        asked = int(self.limit_mb * _MB)
        if reading.limit is None:
            raise BadInput(f"the memory group {self.path} has no limit although "
                           f"{amount(self.limit_mb, 'MB')} was set (no memory controller "
                           "is delegated to it): cannot rehearse in a limit here")
        if reading.limit < asked - _MB:
            raise BadInput(f"the runner itself is held to {amount(reading.limit / _MB, 'MB')} "
                           f"(a container's limit), less than the {amount(self.limit_mb, 'MB')} "
                           "asked for: the service could never get more; ask for that much "
                           "or less, or run where the limit is higher")

    def started(self, pid: int | None) -> None:
        """The service's PID, once it runs: a systemd scope's directory is found from it."""
        self.service_pid = pid

    def _readable(self) -> bool:
        """Whether the group's directory is known (looked up for a scope, once the
        service runs in it); its reader is made once it is."""
        if not self.directory and self._systemd and self.service_pid is not None:
            group = MemoryCgroup.of_process(self.service_pid)
            if group is not None and PREFIX in group.directory:
                self.directory, self.version = group.directory, group.version
                self._oom_kills_at_start = 0  # the scope was made for this run
        if self.directory and self._reader is None:
            self._reader = MemoryCgroup(self.directory, self.version,
                                        _mount_of(self.directory))
        return self._reader is not None

    def _reading(self) -> CgroupReading | None:
        return self._reader.read() if self._readable() and self._reader else None

    def oom_kills(self) -> int | None:
        """OOM kills counted in the group since it was made (None: not readable)."""
        if not self._readable() or self._reader is None:
            return None
        kills = self._reader.oom_kills()
        return None if kills is None else kills - self._oom_kills_at_start

    def describe(self) -> dict[str, Any]:
        """What the group was and what the kernel counted in it over its whole life (it
        was made for this run): ``oom_kills``, ``peak_mb`` and ``pressure`` (v2: the
        share of its life some or all of its tasks stalled waiting for memory; v1: how
        often usage hit the limit)."""
        out: dict[str, Any] = {"method": self.method, "path": self.path, "swap": self.swap,
                               "limit_mb": (None if self.limit_mb is None
                                            else round(self.limit_mb, 1)),
                               "oom_kills": self.oom_kills(), "peak_mb": None,
                               "pressure": None}
        reading = self._reading()
        if reading is None:
            return out
        if reading.lifetime_peak is not None:
            out["peak_mb"] = round(reading.lifetime_peak / _MB, 3)
        if reading.failcnt is not None:
            # Some kernels' v1 emulation leaves failcnt at 0 even at an OOM kill: the
            # pages reclaimed and read back (refaults) show the pressure all the same.
            out["pressure"] = {"kind": "failcnt", "failcnt": reading.failcnt,
                               "refaults": reading.refaults}
        elif reading.pressure_some_us is not None:
            life_us = max(time.monotonic() - self._made_at, 1e-3) * 1e6
            out["pressure"] = {
                "kind": "psi",
                "some_percent": round(reading.pressure_some_us * 100.0 / life_us, 3),
                "full_percent": round((reading.pressure_full_us or 0) * 100.0 / life_us, 3),
                "refaults": reading.refaults}
        return out

    def remove(self) -> None:
        """Remove the group and anything left in it (after the service was stopped);
        ``left_behind`` names it when that failed."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._systemd:
            manager = ["--user"] if os.geteuid() != 0 else []
            try:
                subprocess.run(["systemctl", *manager, "stop", self.path], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.left_behind = self.path
        elif self.path and not _remove_group(self.path):
            self.left_behind = self.path


@contextlib.contextmanager
def memory_limit(limit_mb: float | None, allow_swap: bool) -> Iterator[MemoryLimit]:
    """A memory group for the service, removed on leaving however the run ended."""
    group = MemoryLimit(limit_mb, allow_swap)
    group.make()
    try:
        yield group
    finally:
        group.remove()
