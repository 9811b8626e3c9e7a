"""The event loop the load generator runs on: uvloop where it is installed.

uvloop (libuv under asyncio's interface) cuts the CPU the generator spends per request,
which is what limits a Python load generator; plain asyncio is the fallback, with the
same behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest loop available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
