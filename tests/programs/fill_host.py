"""Fill the host's memory to a share of its total, for tests of a busy host.

    python fill_host.py PERCENT

Allocates and touches memory, a block at a time, until the host's used memory (MemTotal
- MemAvailable, as the monitor counts it) reaches PERCENT of MemTotal, reading
/proc/meminfo again before each block and sizing the last one so as not to go past it;
it never leaves less than FLOOR_MB available, whatever PERCENT asks. Then prints
"ready USED_PERCENT" and holds the memory until stdin closes (or "exit" arrives), and
dies with its parent however that ends. Standard library only.
"""

import ctypes
import mmap
import signal
import sys

PAGE = 4096
BLOCK_MB = 2048
FLOOR_MB = 2048  # never leave the host less than this available (it has no swap)
PR_SET_PDEATHSIG = 1


def meminfo_mb() -> tuple[float, float]:
    """(MemTotal, MemAvailable) in MB."""
    fields = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024.0
    return fields["MemTotal"], fields["MemAvailable"]


def touched(mb: int) -> mmap.mmap:
    """``mb`` MB of private memory, every page written (so it is in use, not promised).
    Populated by the kernel in one call where it can (``MAP_POPULATE``): faulting 4 KiB
    pages in one at a time costs about 2.4 s a GB on this project's virtual machines
    (huge pages or not), populating them 0.4 s."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    block = mmap.mmap(-1, mb * 1024 * 1024, flags=flags)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            block.madvise(mmap.MADV_HUGEPAGE)
        except OSError:
            pass
    block[::PAGE] = b"\x01" * len(range(0, len(block), PAGE))
    return block


def used_percent() -> float:
    total, available = meminfo_mb()
    return (total - available) * 100.0 / total


def main() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    percent = float(sys.argv[1])
    kept = []
    while True:
        total, available = meminfo_mb()
        wanted = total * percent / 100.0 - (total - available)
        room = available - FLOOR_MB
        size = int(min(wanted, room, BLOCK_MB))
        if size < 1:
            break
        kept.append(touched(size))
    print(f"ready {used_percent():.2f}", flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            break


if __name__ == "__main__":
    main()
