"""Fill the host's memory to a share of its total, for tests of a busy host.

    python fill_host.py PERCENT

Allocates and touches memory, a block at a time, until the host's used memory (MemTotal
- MemAvailable, as the monitor counts it) reaches PERCENT of MemTotal, reading
/proc/meminfo again before each block and sizing the last one so as not to go past it;
it never leaves less than FLOOR_MB available, whatever PERCENT asks. Then prints
"ready USED_PERCENT" and keeps the host there (taking what other programs give back)
until stdin closes (or "exit" arrives), and dies with its parent however that ends.
Standard library only.
"""

import ctypes
import mmap
import os
import select
import signal
import sys

PAGE = 4096
BLOCK_MB = 2048
FLOOR_MB = 2048  # never leave the host less than this available (it has no swap)
PR_SET_PDEATHSIG = 1
TOP_UP_EVERY_S = 0.1
FILL_NICENESS = -10
MADV_POPULATE_WRITE = 23  # <linux/mman.h>; not in Python's mmap module


def meminfo_mb() -> tuple[float, float]:
    """(MemTotal, MemAvailable) in MB."""
    fields = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024.0
    return fields["MemTotal"], fields["MemAvailable"]


def touched(mb: int) -> mmap.mmap:
    """``mb`` MB of private memory, every page in use (not promised). Asked for in huge
    pages and populated by the kernel in one call (``MADV_POPULATE_WRITE``, Linux 5.14):
    on this project's virtual machines, memory the hypervisor has not backed yet costs
    about 2.2 s a GB of kernel time however it is touched, and memory it backed a few
    minutes before 0.1 s a GB in 2 MiB pages against 0.55 s in 4 KiB ones. Elsewhere,
    ``MAP_POPULATE`` in small pages."""
    size = mb * 1024 * 1024
    block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        block.madvise(mmap.MADV_HUGEPAGE)
        block.madvise(MADV_POPULATE_WRITE)
        return block
    except (AttributeError, OSError):
        block.close()
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    block = mmap.mmap(-1, size, flags=flags)
    block[::PAGE] = b"\x01" * len(range(0, size, PAGE))
    return block


def used_percent() -> float:
    total, available = meminfo_mb()
    return (total - available) * 100.0 / total


def top_up(percent: float, kept: list[mmap.mmap]) -> None:
    """Add memory until the host's used memory reaches ``percent`` of its total (never
    leaving it less than FLOOR_MB available)."""
    while True:
        total, available = meminfo_mb()
        wanted = total * percent / 100.0 - (total - available)
        room = available - FLOOR_MB
        size = int(min(wanted, room, BLOCK_MB))
        if size < 1:
            return
        kept.append(touched(size))


def main() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # Filling is set-up, not the load under test: ahead of the processes that keep the
    # machine busy where it may (as root), it takes its 40 s of kernel time on memory the
    # virtual machine has not backed, not twice that.
    try:
        os.setpriority(os.PRIO_PROCESS, 0, FILL_NICENESS)
    except OSError:
        pass
    percent = float(sys.argv[1])
    kept: list[mmap.mmap] = []
    top_up(percent, kept)
    print(f"ready {used_percent():.2f}", flush=True)
    # Held at that level while other programs come and go (what they give back is
    # taken), until stdin closes or "exit" arrives.
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], TOP_UP_EVERY_S)
        if readable:
            line = sys.stdin.readline()
            if not line or line.strip() == "exit":
                return
        top_up(percent, kept)


if __name__ == "__main__":
    main()
