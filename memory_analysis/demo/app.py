"""The demo's HTTP layer (aiohttp.web): routes, JSON in and out, the leak switch.

Every path of the load tester's default profile is served. ``leak_kb`` > 0 keeps that
many KB per request forever, so the analysis has a real leak to find; ``hold_mb`` > 0
keeps a bounded response cache of that many MB, which fills within the first seconds
of load and is then held (memory that stays, but is not a leak).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from memory_analysis.demo import market_data
from memory_analysis.demo.cache import HeldCache, LRUCache
from memory_analysis.demo.service import (
    DEFAULT_HISTORY_DAYS,
    DEFAULT_POINTS,
    RequestError,
    StockService,
    parse_count,
    parse_interval,
    parse_symbol,
)

SERVICE_NAME = "Stock Analyzer Pro (demo)"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DemoState:
    def __init__(self, cache_entries: int, cache_ttl_s: float, leak_kb: int,
                 hold_mb: int = 0) -> None:
        self.service = StockService(LRUCache(cache_entries, cache_ttl_s))
        self.leak_kb = leak_kb
        self.leaked: list[bytes] = []  # the deliberate leak: never emptied
        self.held = HeldCache(hold_mb)
        self.requests = 0
        self.started = time.monotonic()

    def on_request(self) -> None:
        self.requests += 1
        if self.leak_kb > 0:
            # bytes * n writes every byte, so the pages are really resident (RSS grows).
            self.leaked.append(b"L" * (self.leak_kb * 1024))
        self.held.store(self.requests)

    def stats(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "requests": self.requests,
                "uptime_s": round(time.monotonic() - self.started, 3),
                "cache": self.service.cache.stats(),
                "leak": {"kb_per_request": self.leak_kb, "chunks": len(self.leaked),
                         "retained_kb": len(self.leaked) * self.leak_kb},
                "held_kb": self.held.held_kb,
                "rss_mb": _own_rss_mb()}


STATE: web.AppKey[DemoState] = web.AppKey("state", DemoState)


def _own_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 3)
    except OSError:
        pass
    return None


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_compact)


@web.middleware
async def count_and_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts (and, with the leak on, leaks on) each request; turns RequestError into 4xx."""
    if not request.path.startswith("/debug/"):
        request.app[STATE].on_request()
    try:
        return await handler(request)
    except RequestError as exc:
        return _json({"error": str(exc)}, status=exc.status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    return body


def _service(request: web.Request) -> StockService:
    return request.app[STATE].service


# Light ---------------------------------------------------------------------------

async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json({"status": "ok", "service": SERVICE_NAME, "pid": os.getpid(),
                  "uptime_s": round(time.monotonic() - state.started, 3),
                  "cache_entries": len(state.service.cache)})


async def index(request: web.Request) -> web.Response:
    routes = sorted({f"{r.method} {r.resource.canonical}" for r in request.app.router.routes()
                     if r.method != "HEAD" and r.resource is not None})
    return _json({"service": SERVICE_NAME, "symbols": len(market_data.SYMBOLS),
                  "intervals": list(market_data.INTERVALS), "endpoints": routes})


async def market_status(_request: web.Request) -> web.Response:
    return _json(StockService.market_status())


async def sector_list(_request: web.Request) -> web.Response:
    return _json(StockService.sector_list())


async def token_mapping(_request: web.Request) -> web.Response:
    return _json(StockService.token_mapping())


# Medium --------------------------------------------------------------------------

async def history(request: web.Request) -> web.Response:
    symbol = parse_symbol(request.match_info["symbol"])
    days = parse_count(request.query.get("days"), "days", DEFAULT_HISTORY_DAYS,
                       market_data.HISTORY_DAYS)
    interval = parse_interval(request.query.get("interval"))
    return _json(_service(request).history(symbol, days, interval))


# Heavy ---------------------------------------------------------------------------

def _symbol_endpoint(compute: Callable[[StockService, str, str, dict[str, Any]], Any]) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        body = await _body(request)
        symbol = parse_symbol(body.get("symbol"))
        interval = parse_interval(body.get("interval"))
        return _json(compute(_service(request), symbol, interval, body))
    return handle


async def sector_benchmarking(request: web.Request) -> web.Response:
    body = await _body(request)
    return _json(_service(request).benchmark(body.get("sectors")))


async def debug_stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].stats())


async def _background(app: web.Application) -> Any:
    """Warms the benchmarking figures; with a cache time to live, sweeps expired entries
    about twice per TTL, so an idle service drops them even when nobody asks."""
    service = app[STATE].service
    cache = service.cache

    async def sweep() -> None:
        while True:
            await asyncio.sleep(max(cache.ttl_s / 2, 0.5))
            cache.expire()

    tasks = [asyncio.create_task(service.warm_figures())]
    if cache.ttl_s > 0:
        tasks.append(asyncio.create_task(sweep()))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def build_app(cache_entries: int = 128, cache_ttl_s: float = 0.0,
              leak_kb: int = 0, hold_mb: int = 0) -> web.Application:
    app = web.Application(middlewares=[count_and_guard])
    app[STATE] = DemoState(cache_entries, cache_ttl_s, leak_kb, hold_mb)
    app.cleanup_ctx.append(_background)
    app.router.add_get("/health", health)
    app.router.add_get("/", index)
    app.router.add_get("/data/market-status", market_status)
    app.router.add_get("/sector/list", sector_list)
    app.router.add_get("/data/token-mapping", token_mapping)
    app.router.add_get("/stock/{symbol}/history", history)
    app.router.add_post("/analyze", _symbol_endpoint(lambda s, sym, iv, _b: s.analyze(sym, iv)))
    app.router.add_post("/analysis/enhanced",
                        _symbol_endpoint(lambda s, sym, iv, _b: s.enhanced(sym, iv)))
    app.router.add_post("/technical/indicators", _symbol_endpoint(
        lambda s, sym, iv, b: s.indicators(
            sym, iv, parse_count(b.get("points"), "points", DEFAULT_POINTS,
                                 market_data.HISTORY_DAYS))))
    app.router.add_post("/patterns/detect",
                        _symbol_endpoint(lambda s, sym, iv, _b: s.detect_patterns(sym, iv)))
    app.router.add_post("/sectors/benchmarking", sector_benchmarking)
    app.router.add_get("/debug/stats", debug_stats)
    return app
