"""A plain WSGI service for gunicorn's sync workers: ``gunicorn wsgi_app:app``."""

from __future__ import annotations

import json
import os

_cache: dict[str, bytes] = {}
# LEAK_KB=256: each request keeps that many KB, every page written, for the life of the
# worker (a leak that gets workers OOM-killed in a small memory limit, and restarted).
LEAK_KB = int(os.environ.get("LEAK_KB", "0"))
_kept: list[bytes] = []


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if LEAK_KB:
        _kept.append(b"\x5a" * (LEAK_KB * 1024))
    body = _cache.setdefault(path, json.dumps({"path": path, "pad": "x" * 2000}).encode())
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
