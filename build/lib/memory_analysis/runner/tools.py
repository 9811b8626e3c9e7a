"""The monitor and the load tester, run as separate processes.

They must not share the runner's interpreter: a sampler that shares a GIL with a load
generator samples late. Each runs in its own session so that a Ctrl-C at the terminal
reaches the runner alone, which then stops them in order and lets them write their
reports. Each also gets SIGTERM if the runner itself dies (PR_SET_PDEATHSIG), so no tool
outlives it even after a ``kill -9``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from memory_analysis.childenv import child_env
from memory_analysis.runner.service import die_with_parent, stop_process_group

MONITOR = "memory_analysis.cli.monitor"
LOAD_TESTER = "memory_analysis.cli.load_tester"
# How each tool names itself in its messages.
NAMES = {MONITOR: "memory_monitor.py", LOAD_TESTER: "load_tester.py"}


def launch(module: str, args: list[str], log_path: Path) -> subprocess.Popen:
    """Run one of the suite's tools as a module of the package, with this interpreter."""
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", module, *args], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=die_with_parent,
                                env=child_env())


def interrupt(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Ask a tool to stop as Ctrl-C would (it writes its report, complete=false); kill its
    whole group if it has not finished within the grace period."""
    stop_process_group(process, grace_s, first=signal.SIGINT)


def finish(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """End the monitor normally (its report stays complete): SIGUSR1, then wait."""
    from memory_analysis.monitor.session import FINISH_SIGNAL

    if process.poll() is None:
        process.send_signal(FINISH_SIGNAL)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        interrupt(process)
