"""A process that allocates memory on command, for the monitor's tests.

Reads one command per line on stdin and answers "ok" on stdout when it is done:
  alloc MB         allocate and touch MB megabytes (kept until "free")
  spike MB MS      allocate MB, hold it MS milliseconds, free it
  fork N           fork N children that share this process's memory and sleep
  free             drop what "alloc" kept
  map PATH         map the file PATH (shared, read-only) and read every page of it
  churn MB MS      from now on, allocate and free MB every MS milliseconds (a thread)
  exit             leave
Uses only the standard library so it starts fast and its own footprint is small.
"""

import ctypes
import mmap
import os
import signal
import sys
import threading
import time

PAGE = 4096
PR_SET_PDEATHSIG = 1
kept = []
children = []


def touched(mb):
    block = bytearray(mb * 1024 * 1024)
    for offset in range(0, len(block), PAGE):
        block[offset] = 1
    return block


def churning(mb, ms):
    # Mapped and unmapped each time: memory freed to the allocator would be reused
    # without a fault, and the process's pages would not change.
    while True:
        block = mmap.mmap(-1, mb * 1024 * 1024)
        for offset in range(0, len(block), PAGE):
            block[offset] = 1
        time.sleep(ms / 1000.0)
        block.close()


def mapped(path):
    with open(path, "rb") as handle:
        view = mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)
    sum(view[offset] for offset in range(0, len(view), PAGE))
    return view


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command = words[0]
        if command == "map":
            kept.append(mapped(words[1]))
            print("ok", flush=True)
            continue
        args = [int(w) for w in words[1:]]
        if command == "alloc":
            kept.append(touched(args[0]))
        elif command == "spike":
            block = touched(args[0])
            time.sleep(args[1] / 1000.0)
            del block
        elif command == "fork":
            for _ in range(args[0]):
                pid = os.fork()
                if pid == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    # Die with the parent, however it ends (a test or bench may kill it).
                    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                    # A child keeps the shared pages and adds a private block of its own.
                    own = touched(4)  # noqa: F841
                    time.sleep(3600)
                    os._exit(0)
                children.append(pid)
            time.sleep(0.3)  # let the children touch their private pages
        elif command == "churn":
            threading.Thread(target=churning, args=(args[0], args[1]), daemon=True).start()
        elif command == "free":
            kept.clear()
        elif command == "exit":
            break
        print("ok", flush=True)
    for pid in children:
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
