"""Direct reads of Linux /proc for one process: cheap enough to run at 10 Hz.

psutil wraps the same files, but building psutil objects for every process on every
tick costs more CPU than the monitor is allowed; these readers open one file each and
parse only the fields used. Sizes are returned in bytes, CPU times in clock ticks.
A vanished process raises ProcessGone; an unreadable file raises PermissionError.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessGone(Exception):
    """The process no longer exists (or is a zombie whose memory is gone)."""


def _read(path: str) -> bytes:
    try:
        with open(path, "rb", buffering=0) as handle:
            return handle.read()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessGone(path) from None


# Fields of /proc/PID/status we keep, all in kB in the file.
_STATUS_KB = {
    b"VmRSS": "rss",
    b"VmHWM": "hwm",
    b"VmSize": "vms",
    b"VmSwap": "swap",
    b"RssAnon": "rss_anon",
    b"RssFile": "rss_file",
    b"RssShmem": "rss_shmem",
}


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


def read_status(pid: int) -> Status:
    """Parse /proc/PID/status. Readable by every user for every process."""
    status = Status()
    for line in _read(f"/proc/{pid}/status").splitlines():
        key, _, rest = line.partition(b":")
        name = _STATUS_KB.get(key)
        if name is not None:
            setattr(status, name, int(rest.split()[0]) * 1024)
        elif key == b"Threads":
            status.threads = int(rest)
        elif key == b"State":
            status.zombie = rest.strip().startswith((b"Z", b"X"))
        elif key == b"Name":
            status.name = rest.strip().decode(errors="replace")
        elif key == b"NSpid":
            status.own_pid = int(rest.split()[-1])
    return status


@dataclass
class Stat:
    """Fields of /proc/PID/stat: parent, CPU time (ticks) and start time (ticks after boot)."""

    ppid: int
    cpu_ticks: int
    start_ticks: int


def read_stat(pid: int) -> Stat:
    data = _read(f"/proc/{pid}/stat")
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
    return Stat(ppid=int(fields[1]), cpu_ticks=int(fields[11]) + int(fields[12]),
                start_ticks=int(fields[19]))


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


def scan_processes() -> dict[int, Stat]:
    """/proc/PID/stat of every process visible, by PID.

    The kernel here has no /proc/PID/task/TID/children, so descendants are found the way
    ps does it: one stat read per process. The same reads give each process's CPU time,
    so a tick reads every stat file once.
    """
    stats: dict[int, Stat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stats[int(entry)] = read_stat(int(entry))
            except (ProcessGone, PermissionError, ValueError):
                continue
    return stats


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


def read_meminfo() -> dict[str, int]:
    """System memory from /proc/meminfo, in bytes (MemTotal, MemAvailable, Swap...)."""
    values: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(b":")
        parts = rest.split()
        if parts:
            values[key.decode()] = int(parts[0]) * 1024
    return values
