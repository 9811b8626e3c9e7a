"""Direct reads of Linux /proc for one process: cheap enough to run at 10 Hz.

psutil wraps the same files, but building psutil objects for every process on every
tick costs more CPU than the monitor is allowed; these readers parse only the fields
used. Files read on every tick stay open (``OpenFile``) and are re-read from their start
with ``pread``: the kernel regenerates a /proc or cgroup file on each read from offset
0, so an open descriptor gives fresh figures without the path lookup, open and close
that cost more than the read itself (bench/RESULTS.md). A descriptor of /proc/PID/...
stays bound to the process it was opened for: once that process is gone, reads fail
rather than reach a new process that took its PID. Sizes are returned in bytes, CPU
times in clock ticks. A vanished process raises ProcessGone; an unreadable file raises
PermissionError.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessGone(Exception):
    """The process no longer exists (or is a zombie whose memory is gone)."""


class OpenFile:
    """A /proc or cgroup file kept open and read whole from its start on each ``read``."""

    __slots__ = ("fd", "size")

    def __init__(self, path: str, size: int = 4096) -> None:
        """FileNotFoundError / PermissionError as ``open`` raises them."""
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = size  # grows to fit the file, so one pread reads it whole

    def read(self) -> bytes:
        data = os.pread(self.fd, self.size, 0)
        while len(data) >= self.size:  # larger than thought: read it all, keep the size
            self.size *= 2
            data = os.pread(self.fd, self.size, 0)
        return data

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _read(path: str) -> bytes:
    try:
        with open(path, "rb", buffering=0) as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(path) from None


# Fields of /proc/PID/status we keep, all in kB in the file: (line start, attribute).
_STATUS_KB = (
    (b"\nVmSize:", "vms"),
    (b"\nVmHWM:", "hwm"),
    (b"\nVmRSS:", "rss"),
    (b"\nRssAnon:", "rss_anon"),
    (b"\nRssFile:", "rss_file"),
    (b"\nRssShmem:", "rss_shmem"),
    (b"\nVmSwap:", "swap"),
)


@dataclass
class Status:
    """Memory figures from /proc/PID/status, in bytes."""

    rss: int = 0
    hwm: int = 0
    vms: int = 0
    swap: int = 0
    rss_anon: int = 0
    rss_file: int = 0
    rss_shmem: int = 0
    threads: int = 0
    zombie: bool = False
    name: str = ""
    # The PID as the process's own (innermost) PID namespace numbers it: in a
    # container, the one it knows itself by. None where the kernel does not say.
    own_pid: int | None = None


def _line_value(data: bytes, key: bytes) -> bytes | None:
    """What follows ``key`` (a line start, "\\nName:") up to the end of its line."""
    start = data.find(key)
    if start < 0:
        return None
    start += len(key)
    end = data.find(b"\n", start)
    return data[start:end if end >= 0 else len(data)]


# The memory lines of /proc/PID/status in the order every kernel since 4.5 writes them,
# matched in one pass; a text that does not match (an older kernel, a kernel thread) is
# read key by key instead.
_STATUS_MEMORY = re.compile(
    rb"\nVmSize:\s*(\d+).*?\nVmHWM:\s*(\d+).*?\nVmRSS:\s*(\d+).*?\nRssAnon:\s*(\d+)"
    rb".*?\nRssFile:\s*(\d+).*?\nRssShmem:\s*(\d+).*?\nVmSwap:\s*(\d+).*?"
    rb"\nThreads:\s*(\d+)", re.S)


def parse_status(data: bytes) -> Status:
    """The fields of a /proc/PID/status text. This runs for every process on every tick:
    one regular expression over the memory lines costs a third of looking each key up,
    and a sixth of splitting the ~55 lines (measured)."""
    status = Status()
    found = _STATUS_MEMORY.search(data)
    if found is not None:
        vms, hwm, rss, anon, file, shmem, swap, threads = map(int, found.groups())
        status.vms, status.hwm, status.rss = vms * 1024, hwm * 1024, rss * 1024
        status.rss_anon, status.rss_file, status.rss_shmem = anon * 1024, file * 1024, \
            shmem * 1024
        status.swap, status.threads = swap * 1024, threads
    else:
        for key, name in _STATUS_KB:
            value = _line_value(data, key)
            if value is not None:
                setattr(status, name, int(value.split()[0]) * 1024)
        threads_line = _line_value(data, b"\nThreads:")
        if threads_line is not None:
            status.threads = int(threads_line)
    state = _line_value(data, b"\nState:")
    status.zombie = state is not None and state.strip().startswith((b"Z", b"X"))
    # Name is the first line; a name may hold any character but a newline.
    status.name = data[5:data.find(b"\n")].strip().decode(errors="replace") \
        if data.startswith(b"Name:") else ""
    nspid = _line_value(data, b"\nNSpid:")
    if nspid is not None:
        status.own_pid = int(nspid.split()[-1])
    return status


def read_status(pid: int) -> Status:
    """Parse /proc/PID/status. Readable by every user for every process."""
    return parse_status(_read(f"/proc/{pid}/status"))


@dataclass
class Stat:
    """Fields of /proc/PID/stat: parent, CPU time (ticks), start time (ticks after boot)
    and page faults (minor + major, all threads): a page is touched, mapped or copied
    on write only through a fault, so an unchanged count and RSS mean unchanged pages."""

    ppid: int
    cpu_ticks: int
    start_ticks: int
    faults: int = 0


def parse_stat(data: bytes) -> Stat:
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, minflt 10, majflt 12, utime 14,
    # stime 15, starttime 22.
    return Stat(ppid=int(fields[1]), cpu_ticks=int(fields[11]) + int(fields[12]),
                start_ticks=int(fields[19]), faults=int(fields[7]) + int(fields[9]))


def read_stat(pid: int) -> Stat:
    return parse_stat(_read(f"/proc/{pid}/stat"))


class ProcessFiles:
    """The per-tick files of one process (status and stat), kept open."""

    __slots__ = ("pid", "_status", "_stat")

    def __init__(self, pid: int) -> None:
        """ProcessGone when the process has already gone."""
        self.pid = pid
        try:
            self._status = OpenFile(f"/proc/{pid}/status")
            try:
                self._stat = OpenFile(f"/proc/{pid}/stat", 1024)
            except OSError:
                self._status.close()
                raise
        except (FileNotFoundError, ProcessLookupError):
            raise ProcessGone(pid) from None

    def _read(self, file: OpenFile) -> bytes:
        try:
            data = file.read()
        except (ProcessLookupError, FileNotFoundError):
            raise ProcessGone(self.pid) from None
        if not data:  # a task torn down between two reads reads empty on some kernels
            raise ProcessGone(self.pid)
        return data

    def status(self) -> Status:
        return parse_status(self._read(self._status))

    def stat(self) -> Stat:
        return parse_stat(self._read(self._stat))

    def close(self) -> None:
        self._status.close()
        self._stat.close()


@dataclass
class SmapsRollup:
    """Proportional and unique set sizes from /proc/PID/smaps_rollup, in bytes."""

    pss: int
    uss: int
    swap: int
    # PSS of anonymous and shared-memory pages alone (Pss_Anon + Pss_Shmem, Linux 5.x);
    # None where the kernel does not split PSS.
    pss_anon_shmem: int | None = None
    # PSS by kind of page (Linux 5.x; None where not split).
    pss_anon: int | None = None
    pss_file: int | None = None
    pss_shmem: int | None = None


def read_smaps_rollup(pid: int) -> SmapsRollup:
    """Needs ptrace-read access (the owner or root). Locks the target's memory map while
    the kernel walks it, so callers read it less often than status."""
    try:
        text = _read(f"/proc/{pid}/smaps_rollup")
    except ProcessGone:
        if not os.path.exists(f"/proc/{pid}/status"):
            raise
        return _footprint_via_psutil(pid)  # kernel older than 4.14: no smaps_rollup
    values: dict[bytes, int] = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(b":")
        parts = rest.split()
        if parts:
            values[key] = int(parts[0]) * 1024
    anon_shmem = None
    if b"Pss_Anon" in values:
        anon_shmem = values[b"Pss_Anon"] + values.get(b"Pss_Shmem", 0)
    return SmapsRollup(
        pss=values.get(b"Pss", 0),
        uss=values.get(b"Private_Clean", 0) + values.get(b"Private_Dirty", 0),
        pss_anon_shmem=anon_shmem,
        swap=values.get(b"Swap", 0),
        pss_anon=values.get(b"Pss_Anon"),
        pss_file=values.get(b"Pss_File"),
        pss_shmem=values.get(b"Pss_Shmem"),
    )


def _footprint_via_psutil(pid: int) -> SmapsRollup:
    """PSS/USS through psutil, which parses the full smaps where there is no rollup.
    psutil 8 renamed memory_full_info() to memory_footprint(); both are supported."""
    import psutil

    try:
        process = psutil.Process(pid)
        read = getattr(process, "memory_footprint", None) or process.memory_full_info
        info = read()
    except psutil.NoSuchProcess:
        raise ProcessGone(pid) from None
    except psutil.AccessDenied:
        raise PermissionError(pid) from None
    return SmapsRollup(pss=getattr(info, "pss", 0), uss=info.uss, swap=getattr(info, "swap", 0))


def process_exists(pid: int) -> bool:
    """True when ``pid`` is a process (a zombie too), not one of a process's threads
    (which /proc also answers for)."""
    if pid <= 0:
        return False
    try:
        tgid = _line_value(_read(f"/proc/{pid}/status"), b"\nTgid:")
    except (ProcessGone, PermissionError):
        return False
    return tgid is not None and int(tgid) == pid


def describe(pid: int) -> dict[str, Any]:
    """Name, command line and user of a process, as far as they can be read
    (ProcessGone when there is no such process)."""
    status = _read(f"/proc/{pid}/status")
    uid = _line_value(status, b"\nUid:")
    username = None
    if uid is not None:
        import pwd  # only here: the one place a name is looked up

        try:
            username = pwd.getpwuid(int(uid.split()[0])).pw_name
        except (KeyError, ValueError):
            username = uid.split()[0].decode()
    name, cmdline = parse_status(status).name, read_cmdline(pid)
    # The kernel keeps 15 characters of a name; the command line has the whole of it.
    if len(name) >= 15 and cmdline and os.path.basename(cmdline[0]).startswith(name):
        name = os.path.basename(cmdline[0])
    return {"name": name or None, "cmdline": cmdline, "username": username}


def read_cmdline(pid: int) -> list[str]:
    """The process's command line (empty for a kernel thread or an unreadable one)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ProcessGone(pid) from None
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def count_fds(pid: int) -> int:
    """Number of open file descriptors (sockets and pipes included)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(pid) from None


def scan_processes(skip: set[int] | frozenset[int] = frozenset()) -> tuple[dict[int, Stat],
                                                                          set[int]]:
    """/proc/PID/stat of every process visible but those in ``skip``, by PID; and every
    PID visible.

    The kernel here has no /proc/PID/task/TID/children, so descendants are found the way
    ps does it: one stat read per process. A caller that knows a process is not in its
    tree skips it (see ``TreeSampler``).
    """
    stats: dict[int, Stat] = {}
    seen: set[int] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pid = int(entry)
            seen.add(pid)
            if pid in skip:
                continue
            try:
                stats[pid] = read_stat(pid)
            except (ProcessGone, PermissionError, ValueError):
                continue
    return stats, seen


def descendants(pid: int, stats: dict[int, Stat]) -> list[int]:
    """All descendants of ``pid`` in ``stats`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for child, stat in stats.items():
        children.setdefault(stat.ppid, []).append(child)
    found: list[int] = []
    stack = list(children.get(pid, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, ()))
    return found


MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "SwapTotal", "SwapFree")


def parse_meminfo(data: bytes, keys: tuple[str, ...] = MEMINFO_KEYS) -> dict[str, int]:
    """Figures of a /proc/meminfo text, in bytes: those of ``keys`` that it has."""
    text = b"\n" + data  # so the first line starts like the others
    values: dict[str, int] = {}
    for key in keys:
        value = _line_value(text, b"\n" + key.encode() + b":")
        if value is not None:
            values[key] = int(value.split()[0]) * 1024
    return values

