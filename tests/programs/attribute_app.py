"""Three endpoints, one of which keeps memory: the service --attribute must name.

    python attribute_app.py PORT        (KEEP_KB=32 by default)

GET /home and GET /search answer and keep nothing. GET /track keeps
``os.urandom(KEEP_KB * 1024)`` per request in a module-level list, forever: random
bytes, so every page is really touched and counts in RSS and PSS. A bytes object of
that size costs its data plus a 33-byte header, rounded by the allocator (malloc, as it
is far over pymalloc's 512 bytes) to 16 bytes, plus the list's 8-byte pointer: about
KEEP_KB × 1024 + 56 bytes a request. GET /health answers 200. Nothing is logged.
"""

from __future__ import annotations

import os
import sys

from aiohttp import web

KEEP_BYTES = int(os.environ.get("KEEP_KB", "32")) * 1024
_kept: list[bytes] = []


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def home(_request: web.Request) -> web.Response:
    return web.Response(text="home")


async def search(_request: web.Request) -> web.Response:
    return web.json_response({"results": [str(i) for i in range(20)]})


async def track(_request: web.Request) -> web.Response:
    _kept.append(os.urandom(KEEP_BYTES))
    return web.json_response({"tracked": len(_kept)})


def build() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/home", home)
    app.router.add_get("/search", search)
    app.router.add_get("/track", track)
    return app


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
