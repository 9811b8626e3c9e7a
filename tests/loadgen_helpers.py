"""Helpers for the load tester's tests: a real aiohttp server on 127.0.0.1 that counts
what it receives, a plain asyncio server that resets, closes or stalls chosen requests,
and a way to run the top-level ``load_tester.py`` script."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "load_tester.py"


class BackgroundServer:
    """A server with an event loop of its own in a background thread: ``start`` (or
    ``with``) returns once it listens; subclasses serve in ``_serve`` (which sets
    ``_loop`` and ``_ready``) and end their loop in ``_end_loop``."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def _serve(self) -> None:
        raise NotImplementedError

    def _end_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.call_soon_threadsafe(loop.stop)

    def start(self) -> Any:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._end_loop(self._loop)
            self._thread.join(10)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class CountingServer(BackgroundServer):
    """aiohttp server in a background thread, answering every path.

    ``status``: the HTTP status of every answer (or per path with ``status_for``);
    ``delay_s``: how long each answer waits. ``counts`` holds (method, path) -> number of
    requests received; ``bodies`` the decoded JSON bodies per path.
    """

    def __init__(self, status: int = 200, delay_s: float = 0.0,
                 status_for: dict[str, int] | None = None) -> None:
        self.status = status
        self.delay_s = delay_s
        self.status_for = status_for or {}
        self.counts: Counter[tuple[str, str]] = Counter()
        self.order: list[str] = []
        self.seen: list[tuple[str, str | None, bytes]] = []
        self.bodies: dict[str, list[Any]] = {}
        self.port = 0
        super().__init__()
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.counts[(request.method, request.path)] += 1
            if len(self.order) < 100_000:
                self.order.append(request.path_qs)
                self.seen.append((request.path, request.headers.get("X-Item"), body))
            if body:
                try:
                    self.bodies.setdefault(request.path, []).append(json.loads(body))
                except ValueError:
                    self.bodies.setdefault(request.path, []).append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.status_for.get(request.path, self.status)
        return web.json_response({"path": request.path, "ok": status < 400}, status=status)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        loop.run_until_complete(site.start())
        self._runner = runner
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()



def free_port() -> int:
    """A loopback port nothing listens on (closed port for connection-refused tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_tester(*args: str, cwd: Path, timeout: float = 60,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the top-level script the way a user does; output text captured."""
    env = dict(os.environ if env is None else env)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def start_tester(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def endpoint_counts(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    """(method, path template) -> requests, as the report has them."""
    return {(e["method"], e["path"]): e["requests"] for e in report["endpoints"]}


def server_counts_by_template(server: CountingServer,
                              report: dict[str, Any]) -> dict[tuple[str, str], int]:
    """The server's counts folded onto the report's path templates."""
    import re

    patterns = []
    for e in report["endpoints"]:
        regex = "^" + re.sub(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}", "[^/]+", re.escape(e["path"])) + "$"
        patterns.append((e["method"], e["path"], re.compile(regex)))
    folded: dict[tuple[str, str], int] = {(m, p): 0 for m, p, _ in patterns}
    with server._lock:
        items = list(server.counts.items())
    for (method, path), n in items:
        for m, template, regex in patterns:
            if m == method and regex.match(path):
                folded[(m, template)] += n
                break
        else:
            folded[(method, path)] = folded.get((method, path), 0) + n
    return folded


class MisbehavingServer(BackgroundServer):
    """A plain asyncio HTTP/1.1 keep-alive server in a background thread that misbehaves
    on a fixed count of the requests it receives (counted from 1, over all connections):

    - every ``reset_every``-th: reads the request and resets the connection (SO_LINGER
      0, so closing sends an RST, no answer);
    - every ``close_every``-th: reads the request and closes the connection (FIN, no
      answer);
    - every ``cut_every``-th: sends the head and part of the body, then closes (FIN);
    - every ``slow_every``-th plus ``slow_offset``: holds the answer until the client
      gives up (closes the connection) or ``slow_s`` passes;
    - any other: answers ``200`` at once and keeps the connection open.

    ``received``, ``resets``, ``closes``, ``cuts`` and ``slow`` count what it did. A connection
    opened and closed without a request (the tester's pre-flight) is not a request.
    """

    ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Content-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}")

    def __init__(self, *, reset_every: int | None = None, close_every: int | None = None,
                 cut_every: int | None = None, slow_every: int | None = None,
                 slow_offset: int = 0, slow_s: float = 10.0) -> None:
        self.reset_every = reset_every
        self.close_every = close_every
        self.cut_every = cut_every
        self.slow_every = slow_every
        self.slow_offset = slow_offset
        self.slow_s = slow_s
        self.received = 0
        self.resets = 0
        self.closes = 0
        self.cuts = 0
        self.slow = 0
        self.port = 0
        self._lock = threading.Lock()
        super().__init__()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"received": self.received, "resets": self.resets,
                    "closes": self.closes, "cuts": self.cuts, "slow": self.slow}

    def _fate(self) -> str:
        """Count one request received and decide what happens to it."""
        with self._lock:
            self.received += 1
            n = self.received
            if self.reset_every and n % self.reset_every == 0:
                self.resets += 1
                return "reset"
            if self.close_every and n % self.close_every == 0:
                self.closes += 1
                return "close"
            if self.cut_every and n % self.cut_every == 0:
                self.cuts += 1
                return "cut"
            if self.slow_every and n % self.slow_every == self.slow_offset:
                self.slow += 1
                return "slow"
            return "answer"

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                fate = self._fate()
                if fate == "reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if fate == "close":
                    writer.close()
                    return
                if fate == "cut":
                    writer.write(self.ANSWER[:-5])
                    await writer.drain()
                    writer.close()
                    return
                if fate == "slow":
                    # hold the answer until the client gives up on it (EOF) or slow_s
                    try:
                        await asyncio.wait_for(reader.read(1), self.slow_s)
                    except (TimeoutError, ConnectionError):
                        pass
                    writer.close()
                    return
                writer.write(self.ANSWER)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._tasks.discard(task)
            writer.close()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        asyncio.get_running_loop().stop()

    def _end_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
