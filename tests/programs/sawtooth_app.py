"""Memory that builds up under requests and is all given back on a timer: a sawtooth.

    python sawtooth_app.py PORT          (or PORT=8011 python sawtooth_app.py)

GET /health answers 200. Each GET /page writes SAW_BYTES (default 128) bytes into the
current block, an anonymous ``mmap`` of SAW_BLOCK_KB (default 1024) KB; a full block is
kept and a new one started. Every PERIOD_S seconds (default 60, counted from start-up)
every block is closed: the pages go back to the kernel at once (munmap, not a heap the
allocator may keep), so memory falls to the same floor each period. Healthy. Nothing is
logged per request.

At 5,000-13,000 requests/s (a default run, ``--users 20``) a 60 s period builds
38-100 MB before it is released.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import sys

from aiohttp import web

SAW_BYTES = int(os.environ.get("SAW_BYTES", "128"))
BLOCK = int(os.environ.get("SAW_BLOCK_KB", "1024")) * 1024
PERIOD_S = float(os.environ.get("PERIOD_S", "60"))

_blocks: list[mmap.mmap] = []
_used = BLOCK  # bytes written in the last block; full at start, so the first write opens one
_payload = bytes(range(256)) * (SAW_BYTES // 256 + 1)


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def page(_request: web.Request) -> web.Response:
    global _used
    if _used + SAW_BYTES > BLOCK:
        _blocks.append(mmap.mmap(-1, BLOCK))
        _used = 0
    _blocks[-1][_used:_used + SAW_BYTES] = _payload[:SAW_BYTES]
    _used += SAW_BYTES
    return web.json_response({"blocks": len(_blocks)})


def release() -> None:
    global _used
    for block in _blocks:
        block.close()
    _blocks.clear()
    _used = BLOCK


async def releaser(_app: web.Application):
    async def loop() -> None:
        while True:
            await asyncio.sleep(PERIOD_S)
            release()
    task = asyncio.create_task(loop())
    yield
    task.cancel()


def build() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/page", page)
    app.cleanup_ctx.append(releaser)
    return app


def port() -> int:
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8011"))


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=port(), print=None, access_log=None)
