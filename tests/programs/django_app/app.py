"""A one-file Django project for the leak benchmark: a healthy WSGI service under
gunicorn with sync workers, each holding a dict cache bounded at CACHE_MB (default 8) MB.

    cd tests/programs/django_app
    gunicorn app:application -b 127.0.0.1:8011 -w 3

Django is not one of the suite's dependencies: ``.venv/bin/pip install -r
bench/requirements.txt`` installs it (with the benchmarks' other services).

GET /health answers 200; GET / a small JSON document; GET /items/<n> a little JSON;
GET /page picks a key uniformly from 0..CACHE_SPACE-1 (default 5,000) and, for a key the
worker does not hold, stores CACHE_ENTRY_KB KB (default 16) of random bytes, evicting
the oldest entries past CACHE_MB: about 512 entries, so a worker's cache is full after
roughly 600 of its requests and then churns at a fixed size. No database, no middleware,
no logging per request (DEBUG off; gunicorn writes no access log unless asked).
"""

from __future__ import annotations

import os
import random

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-not-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
    LOGGING_CONFIG=None,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after configure)
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

CACHE_MB = float(os.environ.get("CACHE_MB", "8"))
ENTRY = int(os.environ.get("CACHE_ENTRY_KB", "16")) * 1024
SPACE = int(os.environ.get("CACHE_SPACE", "5000"))
_cache: dict[int, bytes] = {}
_held = [0]
_random = random.Random()


def health(_request):
    return JsonResponse({"status": "ok"})


def index(_request):
    return JsonResponse({"service": "django_app", "pid": os.getpid(),
                         "routes": ["/health", "/items/<n>", "/page"]})


def item(_request, n: int):
    return JsonResponse({"id": n, "name": f"item {n}", "price": (n % 1000) / 10,
                         "tags": [f"tag-{(n * 31 + i) % 97}" for i in range(20)]})


def page(_request):
    key = _random.randrange(SPACE)
    hit = key in _cache
    if not hit:
        _cache[key] = os.urandom(ENTRY)
        _held[0] += ENTRY
        while _held[0] > CACHE_MB * 1048576:
            oldest = next(iter(_cache))  # dicts keep insertion order: FIFO eviction
            _held[0] -= len(_cache.pop(oldest))
    return JsonResponse({"key": key, "hit": hit, "entries": len(_cache)})


urlpatterns = [
    path("health", health),
    path("", index),
    path("items/<int:n>", item),
    path("page", page),
]

application = get_wsgi_application()
