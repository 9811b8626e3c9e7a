"""Real memory cgroups for tests (root only): a child group of this process's own group
with a small limit, into which a test moves a process."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def _own_memory_cgroup() -> tuple[Path, int] | None:
    """(directory, version) of this process's memory cgroup, where children can be made."""
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    v1_point = v2_point = None
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if tail and tail[0] == "cgroup" and "memory" in tail[2].split(","):
            v1_point = fields[4]
        elif tail and tail[0] == "cgroup2":
            v2_point = fields[4]
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(",") and v1_point:
            return Path(v1_point + path), 1
        if controllers == "" and v2_point:
            directory = Path(v2_point + path)
            if "memory" in (directory / "cgroup.controllers").read_text().split():
                return directory, 2
    return None


def can_make_cgroups() -> bool:
    own = _own_memory_cgroup()
    return os.geteuid() == 0 and own is not None and os.access(own[0], os.W_OK)


class LimitedCgroup:
    """A child memory cgroup with a limit in MB; ``add(pid)`` moves a process into it."""

    def __init__(self, limit_mb: int) -> None:
        own = _own_memory_cgroup()
        assert own is not None
        parent, self.version = own
        self.path = parent / f"memtest-{uuid.uuid4().hex[:8]}"
        self.path.mkdir()
        limit = str(limit_mb * 1024 * 1024)
        if self.version == 1:
            (self.path / "memory.limit_in_bytes").write_text(limit)
        else:
            (self.path / "memory.max").write_text(limit)
            (self.path / "memory.swap.max").write_text("0")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)  # the last process may still be exiting
