"""Whether a service's address can be reached: the one wording the load tester's
pre-flight and the runner's check of a service given by --url use."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from memory_analysis.errors import RunFailed


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def unreachable(url: str, exc: OSError) -> RunFailed | None:
    """The error to stop on when connecting to ``url`` failed with ``exc`` because
    nothing is there (a name that does not resolve, a port nobody listens on); None for
    other failures, which the caller words or waits out."""
    host, port = host_and_port(url)
    if isinstance(exc, socket.gaierror):
        return RunFailed(f"cannot connect to {url}: cannot resolve host {host!r} "
                         f"({exc.strerror or exc})")
    if isinstance(exc, ConnectionRefusedError):
        return RunFailed(f"cannot connect to {url}: connection refused "
                         f"(is the service listening on port {port}?)")
    return None
