"""Start the demo service as a real subprocess and talk to it over real HTTP."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready on (http://[\d.]+:\d+)")
# Loopback only: ignore any proxy the environment sets.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Demo:
    def __init__(self, *args: str, startup_timeout_s: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "memory_analysis.demo", "--port", "0", *args],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.url = self._wait_ready(startup_timeout_s)

    def _wait_ready(self, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                line = self.proc.stdout.readline()
                match = READY.search(line)
                if match:
                    return match.group(1)
                if not line:
                    break
        self.stop()
        errors = self.proc.stderr.read() if self.proc.stderr else ""
        raise AssertionError(f"demo did not get ready: {errors}")

    def request(self, path: str, body: Any = None, raw: bytes | None = None,
                method: str | None = None) -> tuple[int, Any]:
        """(status, decoded JSON body or text) of one request."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method or ("POST" if data is not None else "GET"))
        try:
            with _OPENER.open(req, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text.decode(errors="replace")

    def get_ok(self, path: str, body: Any = None) -> Any:
        status, data = self.request(path, body)
        assert status == 200, (path, status, data)
        return data

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.pid, signum)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode
