"""``python -m memory_analysis.demo --port P``: run the demo service until SIGTERM/SIGINT.

A standalone service, so plain argparse rather than the suite's click CLI. Prints one
line when it is ready to answer, and exits 0 on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from memory_analysis.demo.app import SERVICE_NAME, build_app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m memory_analysis.demo",
                                     description=f"{SERVICE_NAME}: the suite's demo service")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port to listen on; 0 picks a free one (default 8000)")
    parser.add_argument("--cache-entries", type=int, default=128, metavar="N",
                        help="most (symbol, interval) analyses kept in the LRU cache (default 128)")
    parser.add_argument("--cache-ttl", type=float, default=0.0, metavar="S",
                        help="drop cache entries idle for S seconds (default 0: never)")
    parser.add_argument("--leak-kb", type=int, default=0, metavar="N",
                        help="keep N KB per request forever, to demonstrate a leak (default 0)")
    parser.add_argument("--hold-mb", type=int, default=0, metavar="N",
                        help="keep a bounded response cache of N MB: it fills under load and "
                             "is held, not leaked (default 0)")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0-65535")
    for name in ("cache_entries", "leak_kb", "hold_mb"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.cache_ttl < 0:
        parser.error("--cache-ttl must be >= 0")
    return args


async def serve(args: argparse.Namespace) -> None:
    app = build_app(args.cache_entries, args.cache_ttl, args.leak_kb, args.hold_mb)
    # In-flight requests get a few seconds to finish on SIGTERM, well inside the grace
    # period a supervisor gives before SIGKILL.
    runner = web.AppRunner(app, access_log=web.access_logger if args.access_log else None,
                           shutdown_timeout=3.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"{SERVICE_NAME} ready on http://{host}:{port} (leak {args.leak_kb} KB/request, "
              f"cache {args.cache_entries} entries, held {args.hold_mb} MB)", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except OSError as exc:  # e.g. the port is taken
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
