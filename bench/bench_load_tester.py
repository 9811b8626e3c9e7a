#!/usr/bin/env python3
"""Benchmarks of load_tester.py against its peers, side by side in one run.

    .venv/bin/pip install -r bench/requirements.txt      # locust
    .venv/bin/python bench/bench_load_tester.py [--seconds 10] [--rounds 3] [--skip-rss]

1. Throughput, one process each: load_tester vs Locust (FastHttpUser, headless, no wait)
   at the same number of users, against nginx on 127.0.0.1 serving a small static file.
   Goal: load_tester >= 1.4 x Locust.
2. Throughput, many processes: load_tester --workers auto vs wrk at the same number of
   connections. Goal: load_tester >= 0.25 x wrk.
3. Memory: load_tester's own RSS after 1,000,000 requests vs after 10,000.
   Goal: within 10 MB.
4. Accuracy: reported p50 against a server that answers after a fixed 50 ms, 50 users.
   Goal: within 5 % of 50 ms.

Installs nginx and wrk with apt-get when missing (needs root). Runs nginx with its own
temporary configuration on a free loopback port. Results go to bench/out/ and stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PY = sys.executable
USERS = 50

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/html;
  }}
}}
"""

SLOW_SERVER = """
# Answers every GET after exactly 50 ms (keep-alive HTTP/1.1), with as little work of
# its own as possible, so the latency a client reports should be 50 ms plus its own cost.
import asyncio, sys
REPLY = (b"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\n"
         b"Connection: keep-alive\\r\\n\\r\\nok")
class Slow(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        loop = asyncio.get_running_loop()
        while b"\\r\\n\\r\\n" in self.buffer:
            _head, self.buffer = self.buffer.split(b"\\r\\n\\r\\n", 1)
            loop.call_later(0.05, self.answer)
    def answer(self):
        if not self.transport.is_closing():
            self.transport.write(REPLY)
async def main():
    server = await asyncio.get_running_loop().create_server(Slow, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""

LOCUSTFILE = """
from locust import FastHttpUser, task, constant
class Static(FastHttpUser):
    wait_time = constant(0)
    @task
    def get(self):
        self.client.get("/static.json")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def ensure_tools() -> None:
    missing = [pkg for tool, pkg in (("nginx", "nginx"), ("wrk", "wrk"))
               if shutil.which(tool) is None and not Path("/usr/sbin/" + tool).exists()]
    if missing:
        print(f"installing {' '.join(missing)} with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    if shutil.which("locust", path=str(Path(PY).parent)) is None:
        raise SystemExit("locust is missing: .venv/bin/pip install -r bench/requirements.txt")


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (tmp / "html").mkdir()
    (tmp / "tmp").mkdir()
    (tmp / "html" / "static.json").write_text('{"status": "ok", "service": "static"}\n')
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)])
    wait_port(port)
    return proc, port


def load_tester(*args: str, output: Path) -> dict:
    cmd = [PY, str(ROOT / "load_tester.py"), *args, "-o", str(output), "-q"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return json.loads(output.read_text())


def locust_rps(url: str, seconds: int, tmp: Path) -> float:
    locustfile = tmp / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = tmp / "locust"
    cmd = [str(Path(PY).parent / "locust"), "-f", str(locustfile), "--headless", "-u",
           str(USERS), "-r", str(USERS * 100), "-t", f"{seconds}s", "-H", url, "--csv",
           str(prefix), "--only-summary", "--loglevel", "WARNING"]
    done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust failed ({done.returncode}):\n{done.stderr[-2000:]}")
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise RuntimeError("no aggregated row in locust's csv")


def wrk_rps(url: str, seconds: int, threads: int) -> float:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{USERS}", f"-d{seconds}s", url],
                         check=True, capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if not match:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-rss", action="store_true",
                        help="skip the 1,000,000-request memory run (a few minutes)")
    parser.add_argument("--only", default="single,auto,rss,p50",
                        help="comma-separated parts to run: single, auto, rss, p50")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if args.skip_rss:
        parts.discard("rss")
    ensure_tools()
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"cores": os.cpu_count(), "users": USERS,
                                  "seconds": args.seconds, "rounds": args.rounds}
    tmp = Path(tempfile.mkdtemp(prefix="bench_load_tester."))
    nginx, port = start_nginx(tmp)
    url = f"http://127.0.0.1:{port}"
    scenario = tmp / "static.json"
    scenario.write_text(json.dumps({"endpoints": [{"name": "static", "path": "/static.json"}]}))
    common = ["--url", url, "--scenario", str(scenario), "--users", str(USERS),
              "--requests", "0", "--duration", str(args.seconds)]
    try:
        # 1. one process each, alternating, median of the rounds
        ours, theirs = [], []
        for _ in range(args.rounds if "single" in parts else 0):
            theirs.append(locust_rps(url, args.seconds, tmp))
            ours.append(load_tester(*common, output=tmp / "one.json")["totals"]["rps"])
            print(f"  locust {theirs[-1]:8.0f}/s   load_tester {ours[-1]:8.0f}/s", flush=True)
        if "single" in parts:
            results["single_process"] = {
                "locust_rps": theirs, "load_tester_rps": ours,
                "ratio": round(statistics.median(ours) / statistics.median(theirs), 2)}
            print("single process:", results["single_process"], flush=True)

        # 2. --workers auto vs wrk at the same connections
        ours, theirs = [], []
        threads = os.cpu_count() or 1
        for _ in range(args.rounds if "auto" in parts else 0):
            theirs.append(wrk_rps(url + "/static.json", args.seconds, threads))
            ours.append(load_tester(*common, "--workers", "auto",
                                    output=tmp / "auto.json")["totals"]["rps"])
            print(f"  wrk    {theirs[-1]:8.0f}/s   load_tester {ours[-1]:8.0f}/s", flush=True)
        if "auto" in parts:
            results["workers_auto"] = {
                "wrk_rps": theirs, "load_tester_rps": ours, "wrk_threads": threads,
                "ratio": round(statistics.median(ours) / statistics.median(theirs), 2)}
            print("workers auto vs wrk:", results["workers_auto"], flush=True)

        # 3. RSS after 10,000 and after 1,000,000 requests (one process)
        if "rss" in parts:
            rss = {}
            for total in (10_000, 1_000_000):
                report = load_tester("--url", url, "--scenario", str(scenario), "--users",
                                     str(USERS), "--requests", str(total // USERS),
                                     output=tmp / f"rss{total}.json")
                assert report["totals"]["requests"] == total
                rss[str(total)] = report["generator"]["per_process"][0]["rss_mb"]
                print(f"  RSS after {total:,} requests: {rss[str(total)]} MB "
                      f"({report['totals']['duration_s']:.0f} s)", flush=True)
            results["rss_mb"] = rss
            results["rss_growth_mb"] = round(rss["1000000"] - rss["10000"], 1)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)

    # 4. p50 against a fixed 50 ms server
    if "p50" not in parts:
        shutil.rmtree(tmp, ignore_errors=True)
        (OUT / "load_tester.json").write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return 0
    slow_port = free_port()
    slow = subprocess.Popen([PY, "-c", SLOW_SERVER, str(slow_port)])
    try:
        wait_port(slow_port)
        report = load_tester("--url", f"http://127.0.0.1:{slow_port}", "--scenario",
                             str(scenario), "--users", str(USERS), "--requests", "60",
                             output=tmp / "slow.json")
        p50 = report["latency_ms"]["p50"]
        results["fixed_50ms"] = {"p50_ms": p50, "p95_ms": report["latency_ms"]["p95"],
                                 "error_pct": round(abs(p50 - 50) / 50 * 100, 2),
                                 "requests": report["totals"]["requests"]}
        print("fixed 50 ms server:", results["fixed_50ms"], flush=True)
    finally:
        slow.terminate()
        slow.wait(10)
    shutil.rmtree(tmp, ignore_errors=True)
    (OUT / "load_tester.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
