"""A small aiohttp service for the manual's recipe: ``python aiohttp_app.py PORT``."""

from __future__ import annotations

import os
import sys

from aiohttp import web

_cache: dict[int, list[str]] = {}
# HOLD_MB=40: keep 40 MB, every page written, from the first item asked for on (under
# load, so the run's held memory is that much more): a memory regression for the gate.
HOLD_MB = int(os.environ.get("HOLD_MB", "0"))
_held: list[bytes] = []


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def item(request: web.Request) -> web.Response:
    if HOLD_MB and not _held:
        _held.append(b"\x5a" * (HOLD_MB * 1024 * 1024))
    key = int(request.match_info["item_id"]) % 200
    _cache.setdefault(key, [str(i) * 10 for i in range(200)])
    return web.json_response({"id": key, "size": len(_cache[key])})


def build() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/items/{item_id}", item)
    return app


if __name__ == "__main__":
    if os.environ.get("GREETING"):  # so a test sees the service command's environment
        print(f"greeting: {os.environ['GREETING']}", flush=True)
    web.run_app(build(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
