"""The service under analysis: started by the runner, attached to, or remote.

A service the runner starts runs in its own process group (so its workers can be
stopped with it) and logs to a file in the output directory: never a pipe, which would
stall the service once its buffer filled and nobody read it.
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from memory_analysis.childenv import child_env
from memory_analysis.errors import BadInput, RunFailed
from memory_analysis.reach import host_and_port, unreachable
from memory_analysis.runner.confine import MemoryLimit
from memory_analysis.signals import Interrupted, StopSignal

STOP_GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child between fork and exec: have the kernel send it SIGTERM when the runner
    dies, even by SIGKILL, so nothing the runner started outlives it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def port_holder(port: int) -> str | None:
    """Who listens on TCP ``port`` (any address), as ``lsof -i :PORT`` would tell:
    "PID 1234 (python -m http.server 8000)", "another process" when its owner cannot
    be read, None when the port is free."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        connections = []
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "another process"
            try:
                command = " ".join(psutil.Process(conn.pid).cmdline()) or "?"
            except psutil.Error:
                command = "?"
            return f"PID {conn.pid} ({command})"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return "another process"
    return None


def check_port_free(url: str) -> None:
    """A service about to be started on this machine cannot listen where something
    already does: BadInput naming who, before it starts."""
    host, port = host_and_port(url)
    if host not in ("localhost", "127.0.0.1", "::1", "0.0.0.0"):
        return
    holder = port_holder(port)
    if holder is not None:
        raise BadInput(f"port {port} is already in use by {holder}: stop it, or start the "
                       "service on another port (and give that --url)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()
    except OSError:
        return ""


def exit_signal(returncode: int | None) -> signal.Signals | None:
    """The signal that ended a process: a negative return code, or a shell's 128 + N
    (a compound service command reports its killed child that way)."""
    if returncode is None:
        return None
    number = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    try:
        return signal.Signals(number) if number else None
    except ValueError:
        return None


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    killer = exit_signal(returncode)
    if killer is not None:
        return f"was killed by {killer.name}"
    return f"exited with code {returncode}"


@dataclass
class Service:
    """What the runner analyses. ``mode`` is demo, command, pid or url."""

    mode: str
    url: str
    pid: int | None = None
    command: str | None = None
    log_path: Path | None = None
    process: subprocess.Popen | None = None

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def exit_info(self) -> dict[str, Any] | None:
        """How a service that is no longer running ended; None while it runs."""
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return None
            killer = exit_signal(code)
            return {"returncode": code, "signal": killer.name if killer else None,
                    "description": describe_exit(code)}
        if self.pid is not None and not _alive(self.pid):
            return {"returncode": None, "signal": None, "description": "the process is gone"}
        return None

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "pid": self.pid, "url": self.url, "command": self.command,
                "log": str(self.log_path) if self.log_path else None, "exit": self.exit_info()}

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop a service started here: SIGTERM to its process group, SIGKILL after the
        grace period. A service the runner attached to is left running."""
        if self.process is None:
            return
        stop_process_group(self.process, grace_s)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_process_group(process: subprocess.Popen, grace_s: float,
                       first: int = signal.SIGTERM) -> None:
    """Signal a child started with its own session, then everything left in its group."""
    group = process.pid  # start_new_session=True made the child its group's leader
    if process.poll() is None:
        try:
            os.killpg(group, first)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    # Workers may outlive their parent: whatever is left of the group goes now.
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    # A killed member is gone only once the kernel has torn it down; return after that,
    # so nothing the runner started is still there when it says it has finished.
    deadline = time.monotonic() + grace_s
    while group_alive(group) and time.monotonic() < deadline:
        time.sleep(0.01)


def group_alive(group: int) -> bool:
    """True while a process of process group ``group`` is running (zombies excepted)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == group:
            return True
    return False


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _is_simple(command: str) -> bool:
    """True for one command with arguments: no ; & | < > ( ) outside quotes."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    try:
        return not any(token and set(token) <= set(";&|<>()") for token in lexer)
    except ValueError:
        return False  # unbalanced quotes: let the shell say what is wrong


def shell_script(command: str) -> str:
    """What ``/bin/sh -c`` runs for a service command, so that the process the runner
    starts (and watches, and reports the exit of) is the service itself.

    A simple command is exec'd: ``CMD`` becomes ``exec CMD``, and ``NAME=value CMD``
    ``exec env NAME=value CMD`` (an assignment cannot follow exec). A command that
    already execs (``exec CMD``, ``exec env NAME=value CMD``, ``NAME=value exec CMD``,
    as people write them) runs as written: one more exec would make the shell look for
    a program named exec. A compound command runs as written; its shell stays the
    parent of the service, inside the watched tree."""
    if not _is_simple(command):
        return command
    words = shlex.split(command)
    first = next((word for word in words if not _ASSIGNMENT.match(word)), None)
    if first == "exec":
        return command
    return ("exec env " if words and _ASSIGNMENT.match(words[0]) else "exec ") + command


def start_command(command: str, url: str, mode: str, log_path: Path,
                  env: dict[str, str] | None = None, cwd: str | None = None,
                  group: MemoryLimit | None = None) -> Service:
    """Start ``command`` as a shell would run it, in its own process group, in ``cwd``
    (default: this process's directory), inside the memory ``group`` when one is given.
    Its output goes to ``log_path``, which this run starts anew."""
    try:
        log = open(log_path, "wb")
    except OSError as exc:
        raise BadInput(f"cannot write {log_path}: {exc.strerror or exc}") from None
    argv = ["/bin/sh", "-c", shell_script(command)]
    enter = group.enter() if group is not None else None

    def child_setup() -> None:
        die_with_parent()
        if enter is not None:
            enter()  # before exec: all the service starts is in the group from the start
    with log:
        process = subprocess.Popen(group.wrap(argv) if group is not None else argv,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                                   cwd=cwd, preexec_fn=child_setup)
    return Service(mode=mode, url=url, pid=process.pid, command=command, log_path=log_path,
                   process=process)


def start_demo(log_path: Path, leak_kb: int = 0, hold_mb: int = 0,
               env: dict[str, str] | None = None,
               group: MemoryLimit | None = None) -> Service:
    """The bundled demo service on a free loopback port (``env``: default the suite's
    child environment)."""
    port = free_port()
    command = (f"{shlex.quote(sys.executable)} -m memory_analysis.demo --host 127.0.0.1 "
               f"--port {port}" + (f" --leak-kb {leak_kb}" if leak_kb else "")
               + (f" --hold-mb {hold_mb}" if hold_mb else ""))
    return start_command(command, f"http://127.0.0.1:{port}", "demo", log_path,
                         env=env if env is not None else child_env(), group=group)


def attach(pid: int, url: str) -> Service:
    if pid <= 0 or not psutil.pid_exists(pid):
        raise BadInput(f"no process with PID {pid}")
    return Service(mode="pid", url=url, pid=pid)


def wait_until_healthy(service: Service, health_path: str, timeout_s: float,
                       stop: StopSignal) -> float:
    """Poll the health URL until it answers (any status below 500); seconds it took.

    RunFailed when the service exits during start-up (with its exit code and the end of
    its log) or does not answer within ``timeout_s``.
    """
    url = service.url.rstrip("/") + health_path
    start = time.monotonic()
    last_error = "no answer yet"
    if service.mode == "url":
        # A service given by its address alone runs elsewhere and is up already (the
        # load tester checks it the same way): nothing listening there is a wrong
        # address, told at once rather than after the start-up timeout. One given by
        # its PID may still be starting (``app & runner --pid $!``): it is waited for.
        _check_listening(service.url)
    while True:
        ended = service.exit_info()
        if ended is not None:
            raise RunFailed(_startup_failure(service, f"the service {ended['description']} "
                                                      "during start-up"))
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return time.monotonic() - start
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return time.monotonic() - start
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last_error = str(getattr(reason, "strerror", None) or reason)
        if time.monotonic() - start > timeout_s:
            raise RunFailed(_startup_failure(
                service, f"{url} did not become healthy within {timeout_s:g} s "
                         f"(last: {last_error})"))
        if stop.wait(0.1):
            raise Interrupted


def _check_listening(url: str) -> None:
    """RunFailed, with the load tester's words, when nothing is at ``url``."""
    try:
        with socket.create_connection(host_and_port(url), timeout=5):
            return
    except OSError as exc:
        failure = unreachable(url, exc)
        if failure is not None:
            raise failure from None
        # Else no answer yet (busy, or far away): the health check waits for it.


def _startup_failure(service: Service, message: str) -> str:
    if service.log_path is not None:
        last = tail(service.log_path)
        if last:
            indented = "\n".join("    " + line for line in last.splitlines())
            return f"{message}; last lines of {service.log_path}:\n{indented}"
    return message
