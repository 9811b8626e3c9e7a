"""A plain WSGI service for gunicorn's sync workers: ``gunicorn wsgi_app:app``."""

from __future__ import annotations

import json

_cache: dict[str, bytes] = {}


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    body = _cache.setdefault(path, json.dumps({"path": path, "pad": "x" * 2000}).encode())
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
