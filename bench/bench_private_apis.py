"""What the suite's use of dependencies' internals buys, measured side by side.

- aiohttp: a request loop (20 users, 40,000 GET requests to a local aiohttp server in the
  same process) awaiting the public ``session.request(...)`` against the private
  ``ClientSession._request`` it wraps.
- hdrhistogram: recording 300,000 latencies with the project's ``LatencyHistogram.record``
  (which reads the histogram's internals) against hdrh's own ``record_value``.

    python bench/bench_private_apis.py --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from hdrh.histogram import HdrHistogram  # noqa: E402

from memory_analysis.loadgen.histogram import HIGHEST_US, LOWEST_US, LatencyHistogram  # noqa: E402


async def request_loop(private: bool, total: int = 40_000, users: int = 20) -> float:
    app = web.Application()

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=users)) as session:
        async def user() -> None:
            for _ in range(total // users):
                if private:
                    response = await session._request("GET", url)
                else:
                    response = await session.request("GET", url)
                await response.read()
                response.release()
        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(users)))
        elapsed = time.perf_counter() - started
    await runner.cleanup()
    return total / elapsed


def record_speed(count: int = 300_000) -> tuple[float, float]:
    values = [random.randint(100, 2_000_000) for _ in range(count)]
    reference = HdrHistogram(LOWEST_US, HIGHEST_US, 3)
    started = time.perf_counter()
    for value in values:
        reference.record_value(value)
    hdrh_us = (time.perf_counter() - started) / count * 1e6
    ours = LatencyHistogram()
    started = time.perf_counter()
    for value in values:
        ours.record(value)
    return hdrh_us, (time.perf_counter() - started) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    for run in range(1, args.runs + 1):
        private = asyncio.run(request_loop(private=True))
        public = asyncio.run(request_loop(private=False))
        hdrh_us, ours_us = record_speed()
        print(f"run {run}: aiohttp private {private:,.0f} req/s, public {public:,.0f} req/s; "
              f"record hdrh {hdrh_us:.2f} us, project {ours_us:.2f} us "
              f"({hdrh_us / ours_us:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
