"""A small FastAPI service for the runner's tests, run under uvicorn with workers.

Healthy by default: a bounded item cache fills and stays. ``LEAK_KB`` > 0 keeps that
many KB per item request forever (a leak that follows the requests); ``TIMER_KB`` > 0
keeps that many KB every second from a background thread (a leak that follows time).
"""

from __future__ import annotations

import os
import threading
import time

from fastapi import FastAPI

app = FastAPI()
LEAK_KB = int(os.environ.get("LEAK_KB", "0"))
TIMER_KB = int(os.environ.get("TIMER_KB", "0"))
_kept: list[bytes] = []
_cache: dict[int, list[str]] = {}
CACHE_KEYS = 500


def _timer() -> None:
    while True:
        _kept.append(b"T" * (TIMER_KB * 1024))
        time.sleep(1.0)


if TIMER_KB:
    threading.Thread(target=_timer, daemon=True).start()


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "pid": os.getpid()}


@app.get("/")
def root() -> dict:
    return {"service": "fastapi test app"}


@app.get("/items/{item_id}")
def item(item_id: int) -> dict:
    if LEAK_KB:
        _kept.append(b"L" * (LEAK_KB * 1024))
    key = item_id % CACHE_KEYS
    if key not in _cache:
        _cache[key] = [str(i) * 10 for i in range(200)]
    return {"id": item_id, "size": len(_cache[key])}
