"""A pre-forking HTTP service (like gunicorn's sync workers), standard library only: the
master binds the port, forks --workers workers that accept on it, and waits.

Each worker holds --ballast-mb MB allocated in ``agentapp.ballast`` after the fork.
GET /cycle makes reference cycles (garbage only the collector frees); GET /health.

    python -m agentapp.server PORT [--workers N] [--ballast-mb MB]
"""

import argparse
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from agentapp import ballast


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/cycle"):
            root = Node()
            for _ in range(2000):
                Node(root)
            del root  # a cycle: only the garbage collector frees it
        body = b'{"ok": true, "pid": %d}' % os.getpid()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(HTTPServer):
    def server_bind(self):
        pass  # the master's socket

    def server_activate(self):
        pass


def serve(listener, ballast_mb):
    ballast.hold(ballast_mb)
    server = Server(listener.getsockname(), Handler, bind_and_activate=False)
    server.socket = listener
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ballast-mb", type=int, default=0)
    args = parser.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            serve(listener, args.ballast_mb)
            os._exit(0)
        children.append(pid)
    print("up", flush=True)

    def stop(*_):
        for child in children:
            os.kill(child, signal.SIGTERM)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    for _ in children:
        os.wait()


if __name__ == "__main__":
    main()
