"""The memory cgroup a process lives in, v1 or v2: what kills a container.

Inside a container /proc/meminfo describes the host; the limit that matters is the
memory cgroup's. Working set = usage - inactive file pages, the figure Kubernetes
evicts on. Sizes in bytes. The files are read on every tick, so they stay open and are
re-read from their start (see ``procfs.OpenFile``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from memory_analysis.monitor.procfs import OpenFile

# Limits at or above this are "no limit" (v1 writes PAGE_COUNTER_MAX, about 2**63).
_UNLIMITED = 1 << 60


@dataclass
class CgroupReading:
    """One reading, in bytes. ``peak``: the run's own peak (see ``MemoryCgroup``);
    ``lifetime_peak``: the cgroup's high-water mark since it was made, which may be
    another process's from long before (None where the kernel has none)."""

    usage: int
    working_set: int
    limit: int | None
    peak: int | None
    oom_kills: int
    lifetime_peak: int | None = None
    # Memory pressure, where the kernel offers it: v2's PSI totals (microseconds some or
    # all of the group's tasks stalled waiting for memory), v1's count of times usage hit
    # the limit (``memory.failcnt``).
    pressure_some_us: int | None = None
    pressure_full_us: int | None = None
    failcnt: int | None = None
    # File pages mapped by the group's processes and charged to it: a file another
    # group read first (a runtime's binary shared with other processes on the host) is
    # mapped here but charged there.
    mapped_file: int | None = None
    # Pages the group had to read back after the kernel reclaimed them (memory.stat's
    # workingset_refault_anon + _file): what a tight limit costs before any OOM kill.
    refaults: int | None = None


def _int(text: bytes | None) -> int | None:
    """A file holding one number ("max": no limit)."""
    if text is None:
        return None
    text = text.strip()
    if text == b"max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _keyed(text: bytes | None, key: bytes) -> int | None:
    """The value of ``key`` in a file of 'key value' lines (memory.stat, memory.events,
    memory.oom_control), found without splitting the whole file."""
    if text is None:
        return None
    start = 0
    while True:
        at = text.find(key + b" ", start)
        if at < 0:
            return None
        if at == 0 or text[at - 1] == 0x0A:  # at a line start, not inside another key
            end = text.find(b"\n", at)
            value = text[at + len(key) + 1:end if end >= 0 else len(text)].strip()
            return int(value) if value.isdigit() else None
        start = at + 1


def _psi_totals(text: bytes | None) -> tuple[int | None, int | None]:
    """(some, full) ``total=`` microseconds of a PSI file (``memory.pressure``)."""
    totals: dict[bytes, int] = {}
    for line in (text or b"").splitlines():
        kind, _, rest = line.partition(b" ")
        at = rest.find(b"total=")
        if at >= 0 and rest[at + 6:].strip().isdigit():
            totals[kind] = int(rest[at + 6:].strip())
    return totals.get(b"some"), totals.get(b"full")


def cgroup_mounts() -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """(v1 controller -> (mount root, mount point), v2 (mount root, mount point))."""
    v1: dict[str, tuple[str, str]] = {}
    v2: tuple[str, str] | None = None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            lines = handle.readlines()
    except OSError:
        return v1, v2
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point, fstype = fields[3], fields[4], tail[0]
        if fstype == "cgroup":
            for option in tail[2].split(","):
                v1.setdefault(option, (root, point))
        elif fstype == "cgroup2" and v2 is None:
            v2 = (root, point)
    return v1, v2


def join_mount(mount: tuple[str, str], path: str) -> str:
    root, point = mount
    if root != "/" and path.startswith(root):
        path = path[len(root):]
    return os.path.join(point, path.lstrip("/"))


class MemoryCgroup:
    """A memory cgroup directory, v1 or v2, read on demand through files kept open.

    A run reports its own peak, not the cgroup's lifetime one (another process may have
    filled the group an hour before). On cgroup v2 from Linux 6.12, writing to
    ``memory.peak`` resets the peak as seen through the descriptor written to, and only
    there: ``reset_peak`` does that, and the peak is read through that descriptor
    (``peak_basis`` "reset"). Elsewhere (v1, whose only reset is one for everyone, or an
    older kernel) the run's peak is the highest usage sampled, or the lifetime mark when
    it rose during the run (so a spike between two samples still counts; "sampled").
    """

    def __init__(self, directory: str, version: int, top: str) -> None:
        self.directory = directory
        self.version = version
        self._top = top  # the mount point: limits are looked up to here
        self._files: dict[str, OpenFile | None] = {}
        self._run_peak_fd = -1  # v2: memory.peak opened and written to by this run
        self._first_lifetime: int | None = None
        self._max_usage: int | None = None
        self.peak_basis = "sampled"

    @classmethod
    def of_process(cls, pid: int) -> MemoryCgroup | None:
        """The memory cgroup of ``pid``; None at the root or without a memory controller."""
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None
        v1_mounts, v2_mount = cgroup_mounts()
        v2_path = None
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(",") and "memory" in v1_mounts:
                if path == "/":
                    return None
                directory = join_mount(v1_mounts["memory"], path)
                if os.path.exists(os.path.join(directory, "memory.usage_in_bytes")):
                    return cls(directory, 1, v1_mounts["memory"][1])
            if controllers == "":
                v2_path = path
        if v2_path not in (None, "/") and v2_mount is not None:
            directory = join_mount(v2_mount, v2_path)
            if os.path.exists(os.path.join(directory, "memory.current")):
                return cls(directory, 2, v2_mount[1])
        return None

    def _text(self, path: str) -> bytes | None:
        """The file's contents; None when it cannot be read (absent on this kernel, or
        the group is gone). A file that could not be opened is not tried again."""
        if path not in self._files:
            try:
                self._files[path] = OpenFile(path, 8192)
            except OSError:
                self._files[path] = None
        file = self._files[path]
        if file is None:
            return None
        try:
            return file.read()
        except OSError:
            return None

    def _file(self, name: str) -> bytes | None:
        return self._text(f"{self.directory}/{name}")

    def reset_peak(self) -> str | None:
        """Make the peak this run's own (v2, Linux 6.12+: a descriptor of its own on
        ``memory.peak``, reset by a write). Returns why it could not, or None. Changes
        nothing anyone else reads."""
        if self.version != 2:
            return ("cgroup v1 resets its peak for everyone, so the run's cgroup peak is "
                    "the highest usage sampled")
        try:
            fd = os.open(f"{self.directory}/memory.peak", os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            return f"memory.peak could not be opened for a reset: {exc.strerror or exc}"
        try:
            os.write(fd, b"reset\n")
        except OSError as exc:
            os.close(fd)
            return ("memory.peak cannot be reset on this kernel (before Linux 6.12): "
                    f"{exc.strerror or exc}")
        self._run_peak_fd = fd
        self.peak_basis = "reset"
        return None

    def _run_peak(self, usage: int, lifetime: int | None) -> int:
        """The run's own peak: through the reset descriptor, else the highest usage
        sampled, or the lifetime mark once it rose during the run."""
        self._max_usage = usage if self._max_usage is None else max(self._max_usage, usage)
        if self._first_lifetime is None:
            self._first_lifetime = lifetime
        if self._run_peak_fd >= 0:
            try:
                value = _int(os.pread(self._run_peak_fd, 64, 0))
            except OSError:
                value = None
            if value is not None:
                return max(value, self._max_usage)
        if lifetime is not None and self._first_lifetime is not None \
                and lifetime > self._first_lifetime:
            return max(lifetime, self._max_usage)
        return self._max_usage

    def _v2_limit(self) -> int | None:
        # The tightest memory.max from this group up to the mount point.
        limit = None
        directory = self.directory
        while directory.startswith(self._top) and directory != self._top:
            value = _int(self._text(os.path.join(directory, "memory.max")))
            if value is not None and (limit is None or value < limit):
                limit = value
            directory = os.path.dirname(directory)
        return limit

    def read(self) -> CgroupReading | None:
        """Current figures; None when the group has gone."""
        if self.version == 1:
            usage = _int(self._file("memory.usage_in_bytes"))
            if usage is None:
                return None
            stat = self._file("memory.stat")
            inactive = _keyed(stat, b"total_inactive_file")
            if inactive is None:
                inactive = _keyed(stat, b"inactive_file")
            limit = _keyed(stat, b"hierarchical_memory_limit") or _int(
                self._file("memory.limit_in_bytes"))
            lifetime = _int(self._file("memory.max_usage_in_bytes"))
            oom_kills = self.oom_kills()
            mapped = _keyed(stat, b"total_mapped_file")
            if mapped is None:
                mapped = _keyed(stat, b"mapped_file")
            some = full = None
            failcnt = _int(self._file("memory.failcnt"))
        else:
            usage = _int(self._file("memory.current"))
            if usage is None:
                return None
            stat = self._file("memory.stat")
            inactive = _keyed(stat, b"inactive_file")
            mapped = _keyed(stat, b"file_mapped")
            limit = self._v2_limit()
            lifetime = _int(self._file("memory.peak"))
            oom_kills = self.oom_kills()
            some, full = _psi_totals(self._file("memory.pressure"))
            failcnt = None
        if limit is not None and limit >= _UNLIMITED:
            limit = None
        return CgroupReading(usage=usage, working_set=max(usage - (inactive or 0), 0),
                             limit=limit, peak=self._run_peak(usage, lifetime),
                             oom_kills=oom_kills or 0, lifetime_peak=lifetime,
                             pressure_some_us=some, pressure_full_us=full, failcnt=failcnt,
                             mapped_file=mapped, refaults=self._refaults(stat))

    def oom_kills(self) -> int | None:
        """OOM kills the kernel counted in the group: one file, cheap enough to poll."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _keyed(self._file(name), b"oom_kill")

    def _refaults(self, stat: bytes | None) -> int | None:
        prefix = b"total_" if self.version == 1 else b""
        counts = [_keyed(stat, prefix + b"workingset_refault_" + kind)
                  for kind in (b"anon", b"file")]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None

    def close(self) -> None:
        for file in self._files.values():
            if file is not None:
                file.close()
        self._files.clear()
        if self._run_peak_fd >= 0:
            os.close(self._run_peak_fd)
            self._run_peak_fd = -1
