"""A cache whose growth has a known law, for the leak benchmark's recorded traces.

    python cache_app.py PORT          (or PORT=8011 python cache_app.py)

GET /health answers 200. GET /page draws a key server-side from a seeded random
distribution (``random.Random(CACHE_SEED)``, default seed 1) and, the first time a key
is drawn, stores ``os.urandom(CACHE_KB * 1024)`` under it (CACHE_KB default 32): random
bytes, so every page is really touched and counts in RSS and PSS. Nothing is logged per
request. ``CACHE_SHAPE`` chooses the distribution:

``log`` (default) -- healthy: a geometric distribution, P(key = k) = (1 - q) q^k, k >= 0,
    with q = CACHE_Q = 0.99. After n requests the distinct keys number about
    ln(n (1 - q)) / ln(1/q) + 0.6 / ln(1/q) = 100 ln(n / 100) + ~58: growth that keeps
    slowing, each doubling of the requests adding only 100 ln 2 = 69 keys (2.2 MB).
``sqrt`` -- a leak that slows: a discretised Pareto (Lomax) law with tail index 1,
    P(key >= k) = b / (k + b), so P(key = k) ~ b / k^2 (a Zipf law of exponent 2) with
    b = CACHE_B = 2. The distinct keys after n requests are about
    sum_k (1 - exp(-n b / k^2)) ~ sqrt(pi n b) = 2.5 sqrt(n): unbounded, like the square
    root of the requests.
``lru`` -- healthy: the ``sqrt`` draw, but the cache is an LRU bounded at CACHE_KEYS keys
    (default 1000, so at most 1000 x 32 KB = 31 MB); a full cache evicts the least
    recently used key for each new one.

The arithmetic, at the request rates of a default run on the 2-core machine this was
written on (``memory_analysis_runner.py --users 20``, 30/120/30 s, the /page-only scenario
``page_scenario.json``): the load tester alone reached 12,900 requests/s against this
kind of aiohttp service; under the runner (monitor sampling at the same time) take R =
5,000 to 13,000 requests/s (the rates measured are below). Sums
evaluated numerically (not the asymptotes), with CACHE_KB = 32:

========  =========================  =============================  ======================
shape     after the 120 s load       in the load's last 60 s        after 72 h at R
          (n = 120 R = 0.6-1.6 M)                                   (n = 259,200 R)
========  =========================  =============================  ======================
log       920-1,020 keys, 29-32 MB   69 keys, 2.2 MB (any R)        1,690-1,780 keys,
                                                                    53-56 MB (adds ~24 MB
                                                                    after the load: < 100)
sqrt      1,940-3,130 keys, 61-98 MB ~ 0.29 of that, 18-29 MB       90,000-146,000 keys,
                                                                    2.8-4.6 GB (> 2 GB)
lru       1,000 keys, 31 MB (full    0 MB (full)                    31 MB
          after ~160 k requests)
========  =========================  =============================  ======================

So ``log`` grows clearly under load (tens of MB, far above sampling noise) yet is healthy
for days; ``sqrt`` grows comparably in two minutes but passes 2 GB within three days.

Measured in the recorded runs (bench/traces, 2026-12-07, a shared machine): ``log`` at
7,200 requests/s grew 30.4 MB from the baseline by the end of the load (predicted 30);
``sqrt`` at 9,100 requests/s grew 83 MB (predicted 82: 2,620 keys), on its way to
3.7 GB in 72 h at that rate; ``lru`` at 5,700 requests/s filled its 31 MB and stayed.
"""

from __future__ import annotations

import math
import os
import random
import sys
from collections import OrderedDict

from aiohttp import web

SHAPE = os.environ.get("CACHE_SHAPE", "log")
CACHE_KB = int(os.environ.get("CACHE_KB", "32"))
Q = float(os.environ.get("CACHE_Q", "0.99"))
B = float(os.environ.get("CACHE_B", "2"))
KEYS = int(os.environ.get("CACHE_KEYS", "1000"))
SHAPES = ("log", "sqrt", "lru")

_random = random.Random(int(os.environ.get("CACHE_SEED", "1")))
_cache: OrderedDict[int, bytes] = OrderedDict()
_LOG_Q = math.log(Q)


def draw() -> int:
    """One key from the shape's distribution."""
    u = 1.0 - _random.random()  # in (0, 1]
    if SHAPE == "log":
        return int(math.log(u) / _LOG_Q)
    return int(B * (1.0 / u - 1.0))


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def page(_request: web.Request) -> web.Response:
    key = draw()
    value = _cache.get(key)
    new = value is None
    if new:
        _cache[key] = os.urandom(CACHE_KB * 1024)
        if SHAPE == "lru" and len(_cache) > KEYS:
            _cache.popitem(last=False)
    elif SHAPE == "lru":
        _cache.move_to_end(key)
    return web.json_response({"key": key, "new": new, "keys": len(_cache)})


async def stats(_request: web.Request) -> web.Response:
    return web.json_response({"shape": SHAPE, "keys": len(_cache),
                              "held_mb": round(len(_cache) * CACHE_KB / 1024.0, 3)})


def build() -> web.Application:
    if SHAPE not in SHAPES:
        raise SystemExit(f"CACHE_SHAPE must be one of {', '.join(SHAPES)}, not {SHAPE!r}")
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/page", page)
    app.router.add_get("/stats", stats)
    return app


def port() -> int:
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8011"))


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=port(), print=None, access_log=None)
