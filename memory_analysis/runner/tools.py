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

from memory_analysis.runner.service import die_with_parent, stop_process_group

ROOT = Path(__file__).resolve().parents[2]


def launch(script: str, args: list[str], log_path: Path) -> subprocess.Popen:
    """Run one of the project's top-level scripts with this interpreter."""
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, str(ROOT / script), *args], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=die_with_parent)


def interrupt(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Ask a tool to stop as Ctrl-C would (it writes its report, complete=false); kill its
    whole group if it has not finished within the grace period."""
    stop_process_group(process, grace_s, first=signal.SIGINT)


def monitor_args(pid: int, interval: float, duration_s: float, output: Path) -> list[str]:
    return ["--pid", str(pid), "--interval", f"{interval:g}", "--duration", f"{duration_s:g}",
            "--output", str(output), "--quiet"]


def finish(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """End the monitor normally (its report stays complete): SIGUSR1, then wait."""
    from memory_analysis.monitor.session import FINISH_SIGNAL

    if process.poll() is None:
        process.send_signal(FINISH_SIGNAL)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        interrupt(process)
