"""One sample of system memory, a process tree, and its memory cgroup.

Cheap reads (/proc/PID/status, /proc/PID/stat, /proc/meminfo, cgroup files) run on
every tick, through files kept open (``procfs.OpenFile``). Two reads cost more and run
every ``pss_interval`` seconds: smaps_rollup, which gives PSS and USS but locks the
target's memory map while the kernel walks it, and the scan of the whole process table
that finds new descendants (known descendants are re-read on every tick, and leave the
tree as soon as they exit). Between two reads each process's PSS and USS are carried
forward by the change in its RSS, so the tree total still moves at the sampling rate.
All figures leave here in MB (2**20 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memory_analysis.cadence import Cadence
from memory_analysis.monitor import procfs
from memory_analysis.monitor.cgroup import MemoryCgroup
from memory_analysis.monitor.procfs import ProcessGone
from memory_analysis.monitor.runtime import SHELLS

MB = 1024 * 1024


def _mb(value: int | None) -> float | None:
    return None if value is None else round(value / MB, 3)


class SystemReader:
    """System memory from /proc/meminfo, kept open."""

    def __init__(self) -> None:
        self._file = procfs.OpenFile("/proc/meminfo", 8192)

    def read(self) -> dict[str, float]:
        return system_figures(procfs.parse_meminfo(self._file.read()))

    def close(self) -> None:
        self._file.close()


def system_figures(info: dict[str, int]) -> dict[str, float]:
    """System memory. ``used`` is total minus available: what new allocations cannot get."""
    total = info.get("MemTotal", 0)
    available = info.get("MemAvailable", info.get("MemFree", 0))
    swap_used = info.get("SwapTotal", 0) - info.get("SwapFree", 0)
    return {
        "total_mb": _mb(total) or 0.0,
        "available_mb": _mb(available) or 0.0,
        "used_mb": _mb(total - available) or 0.0,
        "percent": round((total - available) * 100.0 / total, 2) if total else 0.0,
        "swap_used_mb": _mb(swap_used) or 0.0,
    }


def service_mb(process: dict[str, Any] | None) -> float | None:
    """The watched tree's memory as a service's: anonymous memory by PSS and file-backed
    memory once (``tree_service_mb``) where the kernel splits PSS by kind, else the tree's
    PSS (or RSS) sum (``tree_mb``); None without a process. What the monitor's target
    alert and the runner's live view compare with the memory the service gets."""
    if not process:
        return None
    value = process.get("tree_service_mb")
    return value if value is not None else process.get("tree_mb")


def cgroup_sample(group: MemoryCgroup | None) -> dict[str, Any] | None:
    if group is None:
        return None
    reading = group.read()
    if reading is None:
        return None
    limit = reading.limit
    # Figures only some kernels or versions have: left out where they are not.
    optional: dict[str, Any] = {
        key: value for key, value in (("pressure_some_us", reading.pressure_some_us),
                                      ("pressure_full_us", reading.pressure_full_us),
                                      ("failcnt", reading.failcnt))
        if value is not None}
    if reading.mapped_file is not None:
        optional["mapped_file_mb"] = _mb(reading.mapped_file)
    return {
        **optional,
        "version": group.version,
        "usage_mb": _mb(reading.usage),
        "working_set_mb": _mb(reading.working_set),
        "limit_mb": _mb(limit),
        "percent": round(reading.working_set * 100.0 / limit, 2) if limit else None,
        "peak_mb": _mb(reading.peak),
        "lifetime_peak_mb": _mb(reading.lifetime_peak),
        "oom_kills": reading.oom_kills,
    }


# An idle tree's PSS is read again at least this often: other processes starting or
# stopping to share its pages change it with no fault in the tree. Such changes come
# with processes starting and ending, seconds apart; ten PSS schedules of the default
# second bound how long a figure can lag them.
PSS_REFRESH_S = 10.0

# Command lines of processes Python's multiprocessing starts for itself, not to serve.
HELPER_COMMANDS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver",
                   "multiprocessing.semaphore_tracker")


@dataclass
class _Rollup:
    """Last smaps_rollup of one process and its RSS at that moment (bytes)."""

    pss: int
    uss: int
    rss_at_read: int
    # The process's RSS counters and page faults at the read: while none of them moves,
    # its pages are the ones that were read (see ``TreeSampler._pages_changed``).
    fingerprint: tuple[int, ...]
    anon_shmem: int | None  # PSS of anonymous + shared-memory pages
    rss_anon_shmem_at_read: int
    # PSS by kind at the read, in MB (not carried forward): anonymous, file-backed,
    # shared memory.
    by_kind_mb: tuple[float | None, float | None, float | None] = (None, None, None)

    def pss_now(self, rss: int) -> int:
        return max(self.pss + rss - self.rss_at_read, 0)

    def uss_now(self, rss: int) -> int:
        return max(self.uss + rss - self.rss_at_read, 0)

    def anon_shmem_now(self, rss_anon_shmem: int) -> int | None:
        if self.anon_shmem is None:
            return None
        return max(self.anon_shmem + rss_anon_shmem - self.rss_anon_shmem_at_read, 0)


def service_total(anon_shmem: list[int | None], rss_file: list[int]) -> int | None:
    """The tree's memory as its own container would be charged for it (bytes).

    Anonymous and shared-memory pages by PSS: split among the tree's processes, which are
    the only ones sharing them (forked workers). File-backed pages (the interpreter,
    libraries) counted once, as the largest member's file RSS: the workers map the same
    files, and other processes on the host that map them too (a load generator running
    the same Python) must not shrink the service's figure, as they do its PSS. None when
    the kernel does not split PSS by kind.
    """
    if not anon_shmem or any(part is None for part in anon_shmem):
        return None
    return sum(part for part in anon_shmem if part is not None) + max(rss_file, default=0)


def _fingerprint(status: procfs.Status, stat: procfs.Stat | None) -> tuple[int, ...]:
    return (status.rss, status.rss_anon, status.rss_file, status.rss_shmem,
            stat.faults if stat is not None else -1)


@dataclass
class ReadCounts:
    """How often each kind of read ran, for the report."""

    status: int = 0
    smaps_rollup: int = 0
    smaps_rollup_unchanged: int = 0  # not read again: the process's pages had not changed
    process_scan: int = 0


@dataclass
class TreeSampler:
    """Samples one process and, optionally, all its descendants.

    Raises ProcessGone from ``sample`` once the target has exited (or its PID now
    belongs to another process).
    """

    pid: int
    include_children: bool = True
    pss_interval: float = 1.0
    tick_s: float = 0.0  # how often ``sample`` is called (the sampling interval)
    counts: ReadCounts = field(default_factory=ReadCounts)
    # What could not be read, and why (e.g. PSS of another user's process).
    unreadable: dict[str, str] = field(default_factory=dict)
    pss_readable: bool = True

    def __post_init__(self) -> None:
        """ProcessGone when the target does not exist."""
        # The tree's processes, the target first, each with its files kept open: a
        # process is in the tree while it is here.
        self._files: dict[int, procfs.ProcessFiles] = {self.pid: procfs.ProcessFiles(self.pid)}
        self._start_ticks = self._files[self.pid].stat().start_ticks
        self._rollups: dict[int, _Rollup] = {}
        self._cpu_prev: dict[int, tuple[int, float]] = {}
        self._helpers: dict[int, bool] = {}  # PID -> started by multiprocessing for itself
        # Ticks come every tick_s: one up to half a tick early is the one due.
        self._deep = Cadence(self.pss_interval, self.tick_s / 2)
        self._outsiders: set[int] = set()  # PIDs seen at the last scan, not in the tree
        self._open_fds: int | None = None
        self._walked_at = float("-inf")  # when smaps_rollup was last walked

    def _pages_changed(self, statuses: dict[int, procfs.Status],
                       stats: dict[int, procfs.Stat], now: float) -> bool:
        """Whether the tree's PSS may have changed since the last smaps_rollup: a
        process joined or left, or one's RSS or fault count moved (PSS of one process
        changes when another un-shares a page, copy on write, so any change re-reads
        the whole tree); or PSS_REFRESH_S have passed, for what no fault in the tree
        shows: processes outside it starting or stopping to share its pages (the same
        files mapped, a parent outside the tree)."""
        if now >= self._walked_at + PSS_REFRESH_S:
            return True
        if statuses.keys() != self._rollups.keys():
            return True
        return any(self._rollups[pid].fingerprint != _fingerprint(st, stats.get(pid))
                   for pid, st in statuses.items())

    def _refresh_rollup(self, pid: int, status: procfs.Status,
                        stat: procfs.Stat | None) -> None:
        rss, anon_shmem_rss = status.rss, status.rss_anon + status.rss_shmem
        try:
            rollup = procfs.read_smaps_rollup(pid)
        except PermissionError:
            self._rollups.pop(pid, None)
            if pid == self.pid:
                self.pss_readable = False
            self.unreadable.setdefault(
                "pss", f"smaps_rollup of PID {pid} is not readable (permission denied); "
                "run as the process owner or root for PSS/USS")
            return
        except ProcessGone:
            return
        self.counts.smaps_rollup += 1
        self._rollups[pid] = _Rollup(rollup.pss, rollup.uss, rss, _fingerprint(status, stat),
                                     rollup.pss_anon_shmem, anon_shmem_rss,
                                     (_mb(rollup.pss_anon), _mb(rollup.pss_file),
                                      _mb(rollup.pss_shmem)))

    def _cpu_percent(self, pid: int, ticks: int, now: float) -> float | None:
        previous = self._cpu_prev.get(pid)
        self._cpu_prev[pid] = (ticks, now)
        if previous is None or now <= previous[1]:
            return None
        seconds = (ticks - previous[0]) / procfs.CLOCK_TICKS
        return round(seconds * 100.0 / (now - previous[1]), 1)

    def sample(self, now: float) -> dict[str, Any]:
        """The target's and its tree's figures at monotonic time ``now``."""
        status = self._files[self.pid].status()
        if status.zombie:
            raise ProcessGone(self.pid)
        deep = self._deep.due(now)
        if self.include_children and deep:
            # Finding new descendants is an expensive read, done on the PSS schedule; in
            # between, known members are re-read. It means reading the stat of every
            # process; but one that was not in the tree at the last scan cannot have
            # joined it (an orphan is adopted by an ancestor, never by a stranger), so
            # only processes new since then are read, with the members. A PID freed and
            # taken again between two scans would be missed: that takes the kernel's
            # whole PID range (/proc/sys/kernel/pid_max) being used up meanwhile.
            stats, seen = procfs.scan_processes(self._outsiders)
            self.counts.process_scan += 1
            found = [self.pid, *procfs.descendants(self.pid, stats)]
            self._set_members(found, stats)
            # A descendant that could not be read this time is looked at again next time.
            self._outsiders = seen - set(found)
        else:
            stats = {}
            for pid, files in self._files.items():
                try:
                    stats[pid] = files.stat()
                except (ProcessGone, PermissionError):
                    if pid == self.pid:
                        raise ProcessGone(pid) from None
        members = [pid for pid in self._files if pid in stats]
        target_stat = stats.get(self.pid)
        if target_stat is None or target_stat.start_ticks != self._start_ticks:
            raise ProcessGone(self.pid)

        statuses = {self.pid: status}
        for child in members[1:]:
            try:
                child_status = self._files[child].status()
            except (ProcessGone, PermissionError):
                continue
            if not child_status.zombie:
                statuses[child] = child_status
        self.counts.status += len(statuses)

        if deep and self.pss_readable:
            if self._pages_changed(statuses, stats, now):
                self._walked_at = now
                for pid, st in statuses.items():
                    self._refresh_rollup(pid, st, stats.get(pid))
            else:
                self.counts.smaps_rollup_unchanged += len(statuses)
        # Forget processes that have gone, so their figures are not counted.
        for gone in set(self._rollups) - set(statuses):
            del self._rollups[gone]
        for gone in set(self._cpu_prev) - set(statuses):
            del self._cpu_prev[gone]
        for gone in set(self._helpers) - set(statuses):
            del self._helpers[gone]
        for gone in [pid for pid in self._files if pid not in statuses and pid != self.pid]:
            self._files.pop(gone).close()

        tree_rss = sum(st.rss for st in statuses.values())
        tree_pss = None
        if self.pss_readable:
            # A process not yet read (just forked) counts with its RSS until its first read.
            tree_pss = sum(
                self._rollups[pid].pss_now(st.rss) if pid in self._rollups else st.rss
                for pid, st in statuses.items()
            )
        tree_service = None
        if self.pss_readable:
            # As for PSS, a process not read yet counts with its own anonymous RSS.
            tree_service = service_total(
                [self._rollups[pid].anon_shmem_now(st.rss_anon + st.rss_shmem)
                 if pid in self._rollups else st.rss_anon + st.rss_shmem
                 for pid, st in statuses.items()],
                [st.rss_file for st in statuses.values()])
        cpu = {pid: self._cpu_percent(pid, stats[pid].cpu_ticks, now)
               for pid in statuses if pid in stats}
        tree_cpu = None if any(v is None for v in cpu.values()) else round(
            sum(v for v in cpu.values() if v is not None), 1)

        wrapper = statuses[self.pid].name in SHELLS
        # Processes with a member of the tree below them that serves (not a helper).
        parents = {stats[pid].ppid for pid in statuses
                   if pid != self.pid and pid in stats and not self._is_helper(pid)}
        processes = {str(pid): self._process_record(pid, st,
                                                    self._role(pid, stats, wrapper, parents))
                     for pid, st in statuses.items()}
        own = self._rollups.get(self.pid)
        if deep:
            # Descriptors come and go with connections, not by the millisecond: counted
            # on the PSS schedule (listing /proc/PID/fd is four system calls).
            try:
                self._open_fds = procfs.count_fds(self.pid)
            except PermissionError:
                self._open_fds = None
        open_fds = self._open_fds
        return {
            "pid": self.pid,
            "rss_mb": _mb(status.rss),
            "vms_mb": _mb(status.vms),
            "uss_mb": _mb(own.uss_now(status.rss)) if own else None,
            "pss_mb": _mb(own.pss_now(status.rss)) if own else None,
            "hwm_mb": _mb(status.hwm),
            "swap_mb": _mb(status.swap),
            "rss_anon_mb": _mb(status.rss_anon),
            "rss_file_mb": _mb(status.rss_file),
            "rss_shmem_mb": _mb(status.rss_shmem),
            "threads": status.threads,
            "open_fds": open_fds,
            "cpu_percent": cpu.get(self.pid),
            "children": len(statuses) - 1,
            "tree_rss_mb": _mb(tree_rss),
            "tree_pss_mb": _mb(tree_pss),
            "tree_mb": _mb(tree_pss if tree_pss is not None else tree_rss),
            "tree_service_mb": _mb(tree_service),
            "tree_cpu_percent": tree_cpu,
            "processes": processes,
        }

    def _set_members(self, members: list[int], stats: dict[int, procfs.Stat]) -> None:
        """The tree as the last scan found it: files opened for processes that joined
        (if still the process the scan saw), closed for those that left."""
        for pid in members:
            if pid in self._files:
                continue
            try:
                files = procfs.ProcessFiles(pid)
            except (ProcessGone, PermissionError):
                continue
            try:
                same = files.stat().start_ticks == stats[pid].start_ticks
            except (ProcessGone, PermissionError):
                same = False
            if not same:  # gone, or the PID taken by another process since the scan
                files.close()
                continue
            self._files[pid] = files
        for gone in [pid for pid in self._files if pid not in members]:
            self._files.pop(gone).close()

    def close(self) -> None:
        """Close the files kept open (the target's too)."""
        for files in self._files.values():
            files.close()
        self._files.clear()

    def _role(self, pid: int, stats: dict[int, procfs.Stat], wrapper: bool,
              parents: set[int]) -> str:
        """The target is the service; with workers below it, their master, and its
        descendants workers. A target that is a shell (a compound --service-cmd: ``cd
        app && gunicorn ...``) is a wrapper, and its own children the services (or
        masters). multiprocessing's own processes (the resource tracker uvicorn's
        --workers start, a forkserver) are helpers, serving nothing, and make no master.
        ``parents``: the members with a non-helper member below them."""
        if pid == self.pid:
            return "wrapper" if wrapper else "master" if pid in parents else "service"
        if self._is_helper(pid):
            return "helper"
        stat = stats.get(pid)
        if wrapper and stat is not None and stat.ppid == self.pid:
            return "master" if pid in parents else "service"
        return "worker"

    def _is_helper(self, pid: int) -> bool:
        helper = self._helpers.get(pid)
        if helper is None:
            try:
                command = " ".join(procfs.read_cmdline(pid))
            except ProcessGone:
                command = ""
            helper = any(name in command for name in HELPER_COMMANDS)
            self._helpers[pid] = helper
        return helper

    def _process_record(self, pid: int, status: procfs.Status, role: str) -> dict[str, Any]:
        """One process of the tree, with its role (see ``_role``). RSS every tick; PSS
        and USS carried forward from the last smaps_rollup like the totals; PSS by kind
        as of that read."""
        rollup = self._rollups.get(pid)
        anon, file, shmem = rollup.by_kind_mb if rollup else (None, None, None)
        return {
            "name": status.name,
            "role": role,
            "rss_mb": _mb(status.rss),
            "rss_file_mb": _mb(status.rss_file),
            "pss_mb": _mb(rollup.pss_now(status.rss)) if rollup else None,
            "uss_mb": _mb(rollup.uss_now(status.rss)) if rollup else None,
            "anon_mb": anon,
            "file_mb": file,
            "shmem_mb": shmem,
        }

    @property
    def tree_metric(self) -> str:
        return "pss" if self.pss_readable else "rss"


def reset_peak(pid: int) -> str | None:
    """Reset the kernel's RSS high-water mark (VmHWM) of ``pid``; the reason on failure."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
    except OSError as exc:
        return f"could not reset the peak of PID {pid}: {exc.strerror or exc}"
    return None
