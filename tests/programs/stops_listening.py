"""A service that answers its first request (the health check) and then stops accepting
connections while staying alive: what a wedged or overloaded server looks like to a
client. Usage: stops_listening.py PORT"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        threading.Thread(target=stop_listening, daemon=True).start()

    def log_message(self, *_args: object) -> None:
        pass


def stop_listening() -> None:
    server.shutdown()
    server.server_close()
    print("stopped listening", flush=True)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("up", flush=True)
server.serve_forever()
signal.pause()
