"""The HTTP engine: one asyncio event loop, one aiohttp session, many virtual users.

Closed model: each virtual user sends a request, waits for the answer (and its think
time), and sends the next; latency runs from the send to the end of the body. Open
model: a scheduler sends request ``k`` at ``start + k / rate`` whether or not earlier
ones were answered, and latency runs from that *scheduled* time, so a stalled server
is not hidden by a stalled client (coordinated omission, as wrk2 handles it).

The hot path does a handful of integer updates and two histogram records per request
and allocates little: URLs and bodies are built once per distinct set of variable
values and reused, connections are kept alive and pooled.
"""

from __future__ import annotations

import asyncio
import errno
import json
import random
import signal
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import psutil
from aiohttp.http_exceptions import ContentLengthError, TransferEncodingError
from yarl import URL

from memory_analysis.errors import RunFailed
from memory_analysis.loadgen.config import LoadConfig, split_evenly
from memory_analysis.loadgen.mix import Mix
from memory_analysis.loadgen.report import LATE_US
from memory_analysis.loadgen.scenario import Endpoint, Scenario, render, render_text
from memory_analysis.loadgen.stats import EndpointStats, GeneratorStats, Interval, RunStats
from memory_analysis.reach import host_and_port, unreachable

#: after the duration ends or a stop is asked for, in-flight requests get this long
#: (at most the request timeout) to finish before they are cancelled and counted
STOP_GRACE_S = 2.0
# The signal that ends a load early as finished (its report complete): the runner sends it
# once its leak test has an answer (--load-test auto). SIGINT and SIGTERM interrupt.
FINISH_SIGNAL = signal.SIGUSR1
#: how often the event-loop lag probe wakes up
LAG_PROBE_S = 0.05
#: distinct rendered requests cached per endpoint
RENDER_CACHE = 4096

_REFUSED = {errno.ECONNREFUSED}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}
#: what aiohttp puts under a ClientPayloadError when the connection ended before the
#: announced body (Content-Length, or the last chunk) had arrived
_CUT_SHORT = (ContentLengthError, TransferEncodingError)


def classify_error(exc: BaseException) -> str:
    """The report's error class for an exception raised by a request.

    ``connection_reset``: a TCP reset (ECONNRESET, EPIPE, ECONNABORTED);
    ``connection_closed``: the server closed the connection (FIN) without an answer, or
    before the whole body had arrived; ``connection_refused``: nothing listening."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return "dns"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, socket.gaierror):
            return "dns"
        if os_error.errno in _REFUSED or isinstance(os_error, ConnectionRefusedError):
            return "connection_refused"
        if os_error.errno in _RESET:
            return "connection_reset"
        return "other"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection_closed"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "connection_closed" if isinstance(exc.__cause__, _CUT_SHORT) else "other"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "connection_reset"
    reset_error = getattr(aiohttp, "ClientConnectionResetError", None)
    if reset_error is not None and isinstance(exc, reset_error):
        return "connection_reset"
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno in _RESET:
        return "connection_reset"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    return "other"


def no_retries(session: aiohttp.ClientSession) -> None:
    """Turn off aiohttp's silent retry, so every attempt is one request in the report.

    aiohttp (3.10 and later) sends an idempotent request (GET, HEAD, PUT, DELETE, ...) a
    second time when its connection was reset or closed, and says nothing: the report
    would hide a failure the service caused and count fewer requests than the service
    received. There is no public switch (aio-libs/aiohttp#10790); the private attribute
    ``_retry_connection`` (aiohttp 3.11 and later) is the only one, so aiohttp is pinned
    to the versions tested, and a version without it stops the run rather than retrying.
    """
    if not isinstance(getattr(session, "_retry_connection", None), bool):
        raise RunFailed(f"aiohttp {aiohttp.__version__} has no ClientSession."
                        "_retry_connection switch, so its silent retries cannot be turned "
                        "off: install the aiohttp versions memory_analysis_requirements.txt "
                        "names.")
    session._retry_connection = False


async def preflight(url: str, timeout_s: float) -> None:
    """Open (and close) one TCP connection to ``url``; RunFailed when that is impossible."""
    host, port = host_and_port(url)
    limit = min(timeout_s, 10.0)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except TimeoutError:
        raise RunFailed(f"cannot connect to {url}: no answer within {limit:g} s") from None
    except OSError as exc:
        raise (unreachable(url, exc)
               or RunFailed(f"cannot connect to {url}: {exc.strerror or exc}")) from None
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


class _Target:
    """One endpoint ready to send: its fixed parts built once."""

    __slots__ = ("endpoint", "method", "stats", "fixed", "cache", "uses", "base")

    def __init__(self, endpoint: Endpoint, base: str, stats: EndpointStats) -> None:
        self.endpoint = endpoint
        self.method = endpoint.method
        self.stats = stats
        self.base = base
        self.uses = endpoint.uses
        self.cache: dict[tuple[int, ...], tuple[URL, bytes | None, dict[str, str] | None]] = {}
        self.fixed = None if self.uses else self.build({})

    def build(self, values: dict[str, Any]) -> tuple[URL, bytes | None, dict[str, str] | None]:
        e = self.endpoint
        url = URL(self.base + render_text(e.path, values))
        headers = {k: render_text(v, values) for k, v in e.headers.items()} or None
        data = None
        if e.has_body:
            data = json.dumps(render(e.body, values), separators=(",", ":")).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        return url, data, headers


class Engine:
    """Runs one process's share of a load test and returns its RunStats.

    ``slot`` / ``slots``: this process's index among all worker processes of the test
    (over all shards); ``user_ids``: the global indices of this process's virtual users.
    """

    def __init__(self, config: LoadConfig, scenario: Scenario, *, slot: int = 0,
                 slots: int = 1, user_ids: list[int] | None = None,
                 progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.scenario = scenario
        self.slot = slot
        self.slots = slots
        self.user_ids = list(range(config.users)) if user_ids is None else user_ids
        self.progress = progress
        seed = config.seed * 1_000_003 + slot
        self.rng = random.Random(seed)
        self.mix = Mix([e.category for e in scenario.endpoints],
                       [e.weight for e in scenario.endpoints], seed)
        base = config.url.rstrip("/")
        self.stats = RunStats([EndpointStats(e.name, e.method, e.path, e.category, e.weight)
                               for e in scenario.endpoints])
        self.targets = [_Target(e, base, s) for e, s in zip(
            scenario.endpoints, self.stats.endpoints, strict=True)]
        self.variables = scenario.variables
        self.in_flight = 0
        self.stopping = False
        self.stop_signal: int | None = None
        self.finish_requested = False  # asked to end now, the load done (FINISH_SIGNAL)
        self.interval = Interval(t=1)
        self.start = 0.0
        self.deadline: float | None = None
        self.generator = GeneratorStats()
        self._stop_event: asyncio.Event | None = None
        self._http_codes: dict[int, str] = {}
        self._request_tasks: set[asyncio.Task[None]] = set()
        self._watch: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timeout_s = config.timeout_s

    # -- control ---------------------------------------------------------------------
    def request_stop(self, signum: int | None = None) -> None:
        """Stop sending; in-flight requests get a short grace (safe from a signal handler
        installed with ``loop.add_signal_handler``)."""
        if signum is not None and self.stop_signal is None:
            self.stop_signal = signum
        self.stopping = True
        if self._stop_event is not None:
            self._stop_event.set()

    def request_finish(self) -> None:
        """End the load now as if its duration were up: the caller has what it needs
        (the runner's leak test has its answer). The report is complete."""
        self.finish_requested = True
        self.request_stop()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when a stop is requested."""
        if seconds <= 0 or self._stop_event is None:
            return
        try:
            await asyncio.wait_for(self._stop_event.wait(), seconds)
        except TimeoutError:
            pass

    # -- one request -------------------------------------------------------------------
    def _parts(self, target: _Target) -> tuple[URL, bytes | None, dict[str, str] | None]:
        if target.fixed is not None:
            return target.fixed
        variables = self.variables
        rng = self.rng
        key = tuple(rng.randrange(len(variables[name])) for name in target.uses)
        parts = target.cache.get(key)
        if parts is None:
            values = {name: variables[name][i] for name, i in zip(target.uses, key, strict=True)}
            parts = target.build(values)
            if len(target.cache) < RENDER_CACHE:
                target.cache[key] = parts
        return parts

    async def _send(self, target: _Target, t0: float) -> None:
        """Send one request; record its outcome and latency measured from ``t0``.

        The request timeout is enforced by the ticker's watchdog (``_expire``), which is
        much cheaper than a timer per request inside aiohttp."""
        url, data, headers = self._parts(target)
        error = None
        nbytes = 0
        task = asyncio.current_task()
        watch = self._watch
        watch[task] = time.perf_counter() + self._timeout_s  # type: ignore[index]
        try:
            # ClientSession._request: what ``session.request`` wraps, without the extra
            # context-manager object per request: about 4 % more requests per second
            # (bench/bench_private_apis.py), so aiohttp is pinned to the versions tested.
            resp = await self.session._request(target.method, url, data=data,
                                               headers=headers)
            try:
                body = await resp.read()
            finally:
                resp.release()
            nbytes = len(body)
            status = resp.status
            if status >= 400:
                error = self._http_codes.get(status)
                if error is None:
                    error = self._http_codes[status] = f"http_{status}"
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            uncancel = getattr(task, "uncancel", None)
            if uncancel is not None:
                uncancel()
            error = "timeout"
        except Exception as exc:  # every failure is counted, none is fatal
            error = classify_error(exc)
        finally:
            watch.pop(task, None)  # type: ignore[arg-type]
        elapsed_us = int((time.perf_counter() - t0) * 1_000_000)
        st = target.stats
        st.requests += 1
        st.bytes_received += nbytes
        st.hist.record(elapsed_us)
        iv = self.interval
        iv.requests += 1
        iv.hist.record(elapsed_us)  # type: ignore[union-attr]  # open until closed
        if error is not None:
            st.failures += 1
            st.errors[error] = st.errors.get(error, 0) + 1
            iv.failures += 1

    def _expire(self, now: float) -> None:
        """Cancel the requests that have run past --timeout (counted as timeouts)."""
        if not self._watch:
            return
        for task, deadline in list(self._watch.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()

    # -- closed model ------------------------------------------------------------------
    async def _user(self, global_index: int) -> None:
        config = self.config
        if config.ramp_up_s > 0:
            await self._pause(self.start + global_index * config.ramp_up_s / config.users
                              - time.perf_counter())
        per_session = config.requests_per_user
        think = config.think_time_s
        targets = self.targets
        mix_next = self.mix.next
        perf = time.perf_counter
        while not self.stopping:
            sent = 0
            while per_session == 0 or sent < per_session:
                if self.stopping:
                    return
                target = targets[mix_next()]
                self.in_flight += 1
                try:
                    await self._send(target, perf())
                finally:
                    self.in_flight -= 1
                sent += 1
                if think is not None:
                    await self._pause(self.rng.uniform(*think))
            if not config.repeat:
                return

    # -- open model --------------------------------------------------------------------
    def _open_done(self, task: asyncio.Task[None]) -> None:
        self._request_tasks.discard(task)
        self.in_flight -= 1

    async def _scheduler(self) -> None:
        config = self.config
        assert config.rate is not None
        period = self.slots / config.rate
        offset = self.slot / config.rate
        total = config.total_requests
        limit = None if total is None else split_evenly(total, self.slots, self.slot)
        max_in_flight = split_evenly(config.in_flight_limit, self.slots, self.slot) or 1
        loop = asyncio.get_running_loop()
        targets = self.targets
        stats = self.stats
        perf = time.perf_counter
        k = 0
        while not self.stopping and (limit is None or k < limit):
            due = self.start + offset + k * period
            if self.deadline is not None and due >= self.deadline:
                break
            now = perf()
            if due > now:
                await asyncio.sleep(min(due - now, LAG_PROBE_S))
                continue
            lag_us = int((now - due) * 1_000_000)
            stats.scheduled += 1
            stats.send_lag.record(lag_us)
            if lag_us > LATE_US:
                stats.late_sends += 1
            target = targets[self.mix.next()]
            if self.in_flight >= max_in_flight:
                stats.dropped += 1
            else:
                self.in_flight += 1
                task = loop.create_task(self._send(target, due))
                self._request_tasks.add(task)
                task.add_done_callback(self._open_done)
            k += 1
            if k % 64 == 0:
                await asyncio.sleep(0)  # let responses in even when far behind

    # -- bookkeeping once a second, loop lag all the time ---------------------------------
    def _close_interval(self) -> Interval:
        iv = self.interval
        iv.in_flight = self.in_flight
        iv.close()
        self.stats.timeline.append(iv)
        self.interval = Interval(t=iv.t + 1)
        return iv

    async def _ticker(self) -> None:
        perf = time.perf_counter
        lag = self.generator.loop_lag
        cpu_last = time.process_time()
        wall_last = perf()
        total_requests = 0
        total_failures = 0
        next_tick = self.start + 1.0
        expected = perf() + LAG_PROBE_S
        while True:
            await asyncio.sleep(max(0.0, min(expected, next_tick) - perf()))
            now = perf()
            if now >= expected:
                lag.record(int((now - expected) * 1_000_000))
                expected = now + LAG_PROBE_S
                self._expire(now)
            if now < next_tick:
                continue
            next_tick += 1.0
            iv = self._close_interval()
            cpu = time.process_time()
            cpu_percent = 100.0 * (cpu - cpu_last) / max(now - wall_last, 1e-6)
            cpu_last, wall_last = cpu, now
            self.generator.cpu_percent_max = max(self.generator.cpu_percent_max, cpu_percent)
            total_requests += iv.requests
            total_failures += iv.failures
            if self.progress is not None:
                self.progress(self._status(iv, total_requests, total_failures, cpu_percent))

    def _status(self, iv: Interval, requests: int, failures: int,
                cpu_percent: float) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.start
        return {"t": iv.t, "elapsed_s": elapsed,
                "remaining_s": max(0.0, self.deadline - time.perf_counter())
                if self.deadline else None,
                "requests": requests, "failures": failures, "dropped": self.stats.dropped,
                "interval_requests": iv.requests, "interval_failures": iv.failures,
                "p50_ms": iv.p50_ms, "p95_ms": iv.p95_ms, "in_flight": iv.in_flight,
                "cpu_percent": round(cpu_percent, 1), "interval_encoded": iv.encoded}

    # -- the run ---------------------------------------------------------------------
    async def run(self) -> tuple[RunStats, str]:
        """Run the test; returns (stats, end_reason): finished, duration, ended (asked to
        end early, ``request_finish``) or interrupted."""
        config = self.config
        self._stop_event = asyncio.Event()
        if self.stopping:
            self._stop_event.set()
        limit = config.in_flight_limit if config.open_model else max(1, len(self.user_ids))
        if config.open_model:
            limit = split_evenly(limit, self.slots, self.slot) or 1
        connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, ttl_dns_cache=300)
        # no aiohttp timers: the ticker's watchdog enforces --timeout (see _send)
        timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None,
                                        sock_connect=None)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         cookie_jar=aiohttp.DummyCookieJar(),
                                         auto_decompress=False) as session:
            no_retries(session)
            self.session = session
            cpu_start = time.process_time()
            self.start = time.perf_counter()
            if config.duration_s is not None:
                self.deadline = self.start + config.duration_s
            if config.open_model:
                work = [asyncio.ensure_future(self._scheduler())]
            else:
                work = [asyncio.ensure_future(self._user(g)) for g in self.user_ids]
            ticker = asyncio.ensure_future(self._ticker())
            end_reason = await self._wait(work)
            end = time.perf_counter()
            ticker.cancel()
            try:
                await ticker
            except asyncio.CancelledError:
                pass
        # the last, partial second
        if self.interval.requests or not self.stats.timeline:
            self._close_interval()
        self.stats.duration_s = end - self.start
        self.generator.cpu_percent_mean = 100.0 * (time.process_time() - cpu_start) / max(
            end - self.start, 1e-6)
        try:
            self.generator.rss_mb = round(psutil.Process().memory_info().rss / 2**20, 1)
        except psutil.Error:
            self.generator.rss_mb = None
        self.stats.generators.append(self.generator)
        return self.stats, end_reason

    async def _wait(self, work: Sequence[asyncio.Future[None]]) -> str:
        assert self._stop_event is not None
        everything = asyncio.ensure_future(asyncio.wait(work))
        stop = asyncio.ensure_future(self._stop_event.wait())
        timeout = None if self.deadline is None else max(0.0, self.deadline - time.perf_counter())
        await asyncio.wait({everything, stop}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        if everything.done() and not self.stopping:
            stop.cancel()
            if self.config.open_model:  # the schedule is sent: wait for the answers
                await self._drain(self.config.timeout_s + 1.0)
            return "finished"
        reason = ("interrupted" if self.stop_signal is not None
                  else "ended" if self.finish_requested else "duration")
        self.request_stop()
        stop.cancel()
        grace = min(STOP_GRACE_S, self.config.timeout_s)
        pending = [t for t in work if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=grace)
        await self._drain(grace)
        in_flight = self.in_flight
        leftovers = [t for t in work if not t.done()] + list(self._request_tasks)
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
        everything.cancel()
        self.stats.cancelled += in_flight
        return reason

    async def _drain(self, timeout: float) -> None:
        if self._request_tasks:
            await asyncio.wait(list(self._request_tasks), timeout=timeout)


def users_for_slot(config: LoadConfig, slot: int, slots: int) -> list[int]:
    """Global indices of the virtual users that worker ``slot`` of ``slots`` runs."""
    return list(range(slot, config.users, slots))

