"""A service that loads a large table once, some time into its traffic, then stays flat.

    python step_app.py PORT          (or PORT=8011 python step_app.py)

GET /health answers 200. STEP_AFTER_S seconds (default 20) after the first GET /page
(health checks do not count: the runner polls /health before its baseline), the service
loads STEP_MB MB (default 40) once, every page written, and keeps it for the rest of its
life; GET /page does nothing else that lasts. A step, then flat: healthy. Nothing is
logged per request.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

STEP_MB = int(os.environ.get("STEP_MB", "40"))
STEP_AFTER_S = float(os.environ.get("STEP_AFTER_S", "20"))

_state: dict[str, object] = {"armed": False, "table": None}


def load_table() -> None:
    _state["table"] = b"\x5a" * (STEP_MB * 1024 * 1024)


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def page(_request: web.Request) -> web.Response:
    if not _state["armed"]:
        _state["armed"] = True
        asyncio.get_running_loop().call_later(STEP_AFTER_S, load_table)
    return web.json_response({"loaded": _state["table"] is not None})


def build() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/page", page)
    return app


def port() -> int:
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8011"))


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=port(), print=None, access_log=None)
