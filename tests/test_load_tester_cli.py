"""load_tester.py as a user runs it: the top-level script in a subprocess against a real
aiohttp server on 127.0.0.1 that counts what it receives."""

from __future__ import annotations

import json
import signal
import time

import psutil
import pytest
from loadgen_helpers import (
    CountingServer,
    MisbehavingServer,
    endpoint_counts,
    free_port,
    load,
    run_tester,
    server_counts_by_template,
    start_tester,
)

from memory_analysis.loadgen.histogram import LatencyHistogram

CONTRACT_KEYS = {"tool", "schema_version", "complete", "config", "totals", "latency_ms",
                 "errors", "categories", "endpoints", "timeline", "histogram"}


@pytest.fixture
def server():
    with CountingServer() as srv:
        yield srv


def test_seed_example_counts_match_the_server_exactly(server, tmp_path):
    result = run_tester("--url", server.url, "--users", "20", "--requests", "15", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "load_test_results.json")
    assert CONTRACT_KEYS <= set(report)
    assert report["tool"] == "load_tester" and report["schema_version"] == 1
    assert report["complete"] is True
    assert report["config"]["users"] == 20 and report["config"]["requests_per_user"] == 15
    assert report["config"]["workers"] == 1 and report["config"]["rate"] is None
    totals = report["totals"]
    assert totals["requests"] == 300 == server.total
    assert totals["successes"] == 300 and totals["failures"] == 0 and totals["dropped"] == 0
    assert endpoint_counts(report) == server_counts_by_template(server, report)
    # exact shares: 180 light, 90 medium, 30 heavy of 300
    cats = report["categories"]
    assert {k: v["requests"] for k, v in cats.items()} == {"light": 180, "medium": 90,
                                                            "heavy": 30}
    assert cats["light"]["share"] == 0.6 and cats["heavy"]["share"] == 0.1
    hist = LatencyHistogram.decode(report["histogram"])
    assert hist.count == 300
    assert sum(row["requests"] for row in report["timeline"]) == 300
    lat = report["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    # the heavy POSTs carry the documented JSON bodies
    for body in server.bodies["/analyze"]:
        assert set(body) == {"symbol", "interval"} and body["interval"] in ("1D", "1W", "1M")
    for body in server.bodies["/sectors/benchmarking"]:
        assert isinstance(body["sectors"], list) and body["sectors"]
    assert "Report written: load_test_results.json" in result.stdout


def test_two_workers_merge_exactly_and_shares_hold(server, tmp_path):
    result = run_tester("--url", server.url, "--users", "10", "--requests", "40",
                        "--workers", "2", "-o", "two.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "two.json")
    assert report["config"]["workers"] == 2
    assert report["generator"]["processes"] == 2
    assert report["totals"]["requests"] == 400 == server.total
    assert endpoint_counts(report) == server_counts_by_template(server, report)
    for cat, share in {"light": 0.6, "medium": 0.3, "heavy": 0.1}.items():
        assert abs(report["categories"][cat]["share"] - share) <= 0.01


def test_yaml_scenario_with_variables_headers_and_seed(server, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "variables:\n  item: [a, b, c]\n"
        "endpoints:\n"
        "  - {name: one, path: /one, weight: 3, category: fast}\n"
        "  - name: item\n    method: PUT\n    path: /items/{item}\n    weight: 1\n"
        "    category: slow\n    headers: {X-Item: '{item}'}\n    body: {id: '{item}'}\n")
    args = ("--url", server.url, "--users", "1", "--requests", "40", "--seed", "7",
            "--scenario", str(scenario), "-o", "s.json")
    assert run_tester(*args, cwd=tmp_path).returncode == 0
    first = list(server.order)
    report = load(tmp_path / "s.json")
    assert {k: v["requests"] for k, v in report["categories"].items()} == {"fast": 30,
                                                                           "slow": 10}
    items = [(path, header, json.loads(body)) for path, header, body in server.seen
             if path.startswith("/items/")]
    assert len(items) == 10
    for path, header, body in items:
        value = path.rsplit("/", 1)[1]
        assert value in ("a", "b", "c") and header == value and body == {"id": value}
    assert all(p.startswith("/items/") or p == "/one" for p in first)
    server.order.clear()
    assert run_tester(*args, cwd=tmp_path).returncode == 0
    assert server.order == first  # same seed, same sequence
    server.order.clear()
    other = [a if a != "7" else "8" for a in args]
    assert run_tester(*other, cwd=tmp_path).returncode == 0
    assert server.order != first


def test_http_500_counted_and_error_rate_threshold_exits_3(tmp_path):
    with CountingServer(status_for={"/health": 500}) as srv:
        result = run_tester("--url", srv.url, "--users", "5", "--requests", "20",
                            "--max-error-rate", "0.01", cwd=tmp_path)
        report = load(tmp_path / "load_test_results.json")
        health = srv.counts[("GET", "/health")]
    assert result.returncode == 3, result.stderr
    assert health > 0 and report["errors"] == {"http_500": health}
    assert report["totals"]["failures"] == health
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "threshold broken: error rate" in err[0]
    assert any(not t["passed"] for t in report["thresholds"])


def test_p95_threshold_overall_and_per_endpoint(tmp_path):
    with CountingServer(delay_s=0.03) as srv:
        slow = run_tester("--url", srv.url, "--users", "4", "--requests", "5",
                          "--max-p95-ms", "10", cwd=tmp_path)
        named = run_tester("--url", srv.url, "--users", "4", "--requests", "5",
                           "--max-p95-ms", "health=10", cwd=tmp_path)
        fine = run_tester("--url", srv.url, "--users", "4", "--requests", "5",
                          "--max-p95-ms", "5000", "--max-error-rate", "0", cwd=tmp_path)
    assert slow.returncode == 3 and "(overall)" in slow.stderr
    assert named.returncode == 3 and "(endpoint health)" in named.stderr
    assert "(overall)" not in named.stderr
    assert fine.returncode == 0, fine.stderr


def test_timeout_class_for_a_server_slower_than_timeout(tmp_path):
    with CountingServer(delay_s=1.0) as srv:
        result = run_tester("--url", srv.url, "--users", "3", "--requests", "2",
                            "--timeout", "0.2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "load_test_results.json")
    assert report["errors"] == {"timeout": 6}
    assert report["totals"]["failures"] == 6
    assert 200 <= report["latency_ms"]["p50"] < 900


def test_closed_port_fails_the_preflight_with_exit_1(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = run_tester("--url", url, "--users", "2", "--requests", "2", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"load_tester.py: error: cannot connect to {url}: connection refused "
                     f"(is the service listening on port {url.rsplit(':', 1)[1]}?)"]
    assert not (tmp_path / "load_test_results.json").exists()


def test_service_dying_mid_test_counts_connection_errors(tmp_path):
    srv = CountingServer().start()
    proc = start_tester("--url", srv.url, "--users", "4", "--requests", "0", "--duration",
                        "3", "--think-time", "0.01-0.02", cwd=tmp_path)
    deadline = time.monotonic() + 20
    while srv.total < 20:  # the load is flowing
        assert time.monotonic() < deadline and proc.poll() is None, "no load reached the server"
        time.sleep(0.02)
    srv.stop()
    served = srv.total
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    report = load(tmp_path / "load_test_results.json")
    assert report["complete"] is True and report["end_reason"] == "duration"
    errors = report["errors"]
    assert errors.get("connection_refused", 0) > 0, errors
    assert set(errors) <= {"connection_refused", "connection_reset", "connection_closed"}
    assert report["totals"]["successes"] <= served


def _one_get(tmp_path):
    scenario = tmp_path / "one.json"
    scenario.write_text('{"endpoints": [{"name": "item", "path": "/item"}]}')
    return str(scenario)


def test_resets_and_timeouts_are_counted_as_the_server_saw_them(tmp_path):
    # every 10th request's connection reset, every 10k+5th answered after --timeout:
    # nothing may be retried unseen, so the report's counts are the server's
    with MisbehavingServer(reset_every=10, slow_every=10, slow_offset=5) as srv:
        result = run_tester("--url", srv.url, "--users", "10", "--requests", "30",
                            "--timeout", "1", "--scenario", _one_get(tmp_path), "-q",
                            cwd=tmp_path)
        seen = srv.counts()
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "load_test_results.json")
    totals, errors = report["totals"], report["errors"]
    assert totals["requests"] == seen["received"], (totals, errors, seen)
    assert errors.get("connection_reset") == seen["resets"], (errors, seen)
    assert errors.get("timeout") == seen["slow"], (errors, seen)
    assert totals["failures"] == seen["resets"] + seen["slow"], (totals, errors, seen)
    assert set(errors) == {"connection_reset", "timeout"}
    assert seen["received"] == 300 and seen["resets"] == 30 and seen["slow"] == 30, seen


def test_a_connection_closed_without_a_whole_answer_is_connection_closed(tmp_path):
    # every 7th closed with no answer, every other 5th closed halfway through the body
    with MisbehavingServer(close_every=7, cut_every=5) as srv:
        result = run_tester("--url", srv.url, "--users", "5", "--requests", "28",
                            "--scenario", _one_get(tmp_path), "-q", cwd=tmp_path)
        seen = srv.counts()
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "load_test_results.json")
    closed = seen["closes"] + seen["cuts"]
    assert report["totals"]["requests"] == seen["received"], (report["totals"], seen)
    assert report["errors"] == {"connection_closed": closed}, (report["errors"], seen)
    assert report["totals"]["failures"] == closed
    assert seen["received"] == 140 and seen["closes"] == 20 and seen["cuts"] == 24, seen


def test_open_model_holds_the_rate(server, tmp_path):
    result = run_tester("--url", server.url, "--rate", "200", "--duration", "2", "--repeat",
                        "-o", "open.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "open.json")
    om = report["open_model"]
    assert report["config"]["model"] == "open"
    assert 396 <= om["scheduled"] <= 401
    assert report["totals"]["requests"] == om["scheduled"] == server.total
    assert om["late_sends"] <= om["scheduled"] * 0.05
    assert report["totals"]["dropped"] == 0
    per_second = [row["requests"] for row in report["timeline"][:2]]
    assert all(185 <= n <= 215 for n in per_second), per_second


def test_open_model_reports_late_sends_when_the_generator_cannot_keep_up(server, tmp_path):
    result = run_tester("--url", server.url, "--rate", "50000", "--users", "100",
                        "--requests", "30", "-o", "late.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "late.json")
    om = report["open_model"]
    assert om["scheduled"] == 3000
    assert report["totals"]["requests"] + report["totals"]["dropped"] == 3000
    assert report["totals"]["requests"] == server.total
    assert om["late_sends"] > 0 and om["send_lag_ms"]["max"] > 10
    assert any("late" in w for w in report["warnings"])


def test_open_model_drops_beyond_max_in_flight(tmp_path):
    with CountingServer(delay_s=0.5) as srv:
        result = run_tester("--url", srv.url, "--rate", "100", "--users", "1", "--requests",
                            "40", "--max-in-flight", "5", "-o", "drop.json", cwd=tmp_path)
        received = srv.total
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "drop.json")
    assert report["totals"]["dropped"] > 0
    assert report["totals"]["requests"] + report["totals"]["dropped"] == 40
    assert report["totals"]["requests"] == received


def test_shards_merge_to_the_combined_run(server, tmp_path):
    common = ("--url", server.url, "--users", "6", "--requests", "25", "-q")
    for i in (1, 2):
        result = run_tester(*common, "--shard", f"{i}/2", "-o", f"shard{i}.json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    merged = run_tester("merge", "shard1.json", "shard2.json", "-o", "all.json", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    a, b, m = (load(tmp_path / f) for f in ("shard1.json", "shard2.json", "all.json"))
    assert a["totals"]["requests"] == b["totals"]["requests"] == 75
    assert m["totals"]["requests"] == 150 == server.total
    assert m["config"]["shard"] is None
    assert endpoint_counts(m) == server_counts_by_template(server, m)
    combined = LatencyHistogram.decode(a["histogram"])
    combined.add(LatencyHistogram.decode(b["histogram"]))
    merged_hist = LatencyHistogram.decode(m["histogram"])
    assert list(merged_hist._h.counts) == list(combined._h.counts)
    assert m["latency_ms"]["max"] == max(a["latency_ms"]["max"], b["latency_ms"]["max"])
    assert m["latency_ms"]["min"] == min(a["latency_ms"]["min"], b["latency_ms"]["min"])
    for cat in ("light", "medium", "heavy"):
        assert m["categories"][cat]["requests"] == (a["categories"][cat]["requests"]
                                                    + b["categories"][cat]["requests"])
    # thresholds on the merge
    strict = run_tester("merge", "shard1.json", "shard2.json", "-o", "all2.json",
                        "--max-p95-ms", "0.001", "-q", cwd=tmp_path)
    assert strict.returncode == 3


def test_repeat_restarts_sessions_until_the_duration_ends(server, tmp_path):
    result = run_tester("--url", server.url, "--users", "2", "--requests", "3", "--duration",
                        "1.5", "--repeat", "--think-time", "0.05", "-o", "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "r.json")
    assert report["end_reason"] == "duration" and report["complete"] is True
    assert report["totals"]["requests"] > 6
    assert report["totals"]["requests"] == server.total
    assert 1.4 <= report["totals"]["duration_s"] <= 3.5
    # the per-second rows were also streamed while the test ran
    rows = [json.loads(line) for line in (tmp_path / "r.timeline.jsonl").read_text().splitlines()]
    assert rows and rows[0]["t"] == 1
    assert [r["requests"] for r in rows] == [r["requests"] for r in report["timeline"][:len(rows)]]


def test_ramp_up_spreads_user_starts(server, tmp_path):
    result = run_tester("--url", server.url, "--users", "4", "--requests", "1", "--ramp-up",
                        "1.2", "-o", "ramp.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = load(tmp_path / "ramp.json")
    assert report["totals"]["requests"] == 4
    assert 0.85 <= report["totals"]["duration_s"] <= 2.5


# SIGINT and SIGTERM interrupt (an incomplete report); SIGUSR1 ends the load early as
# finished (a complete one): what the runner sends once its leak test can tell
# (--load-test auto).
@pytest.mark.parametrize("signum, code, workers, complete, reason", [
    (signal.SIGINT, 130, "1", False, "interrupted"),
    (signal.SIGTERM, 143, "2", False, "interrupted"),
    (signal.SIGUSR1, 0, "1", True, "ended"),
    (signal.SIGUSR1, 0, "2", True, "ended")])
def test_a_signal_ends_the_load_with_its_report_and_leaves_no_workers(
        server, tmp_path, signum, code, workers, complete, reason):
    proc = start_tester("--url", server.url, "--users", "4", "--requests", "0", "--duration",
                        "60", "--think-time", "0.01", "--workers", workers, cwd=tmp_path)
    deadline = time.monotonic() + 20
    while server.total < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == (2 if workers == "2" else 0)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    report = load(tmp_path / "load_test_results.json")
    assert report["complete"] is complete and report["end_reason"] == reason
    assert report["totals"]["duration_s"] < 30
    assert report["totals"]["requests"] + report["totals"]["cancelled"] >= server.total - 0
    assert report["totals"]["requests"] <= server.total
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_print_profile_is_a_valid_scenario(tmp_path, server):
    result = run_tester("--print-profile", cwd=tmp_path)
    assert result.returncode == 0
    (tmp_path / "mine.json").write_text(result.stdout)
    assert json.loads(result.stdout)["endpoints"]
    ok = run_tester("--url", server.url, "--scenario", "mine.json", "--users", "2",
                    "--requests", "2", "-q", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr


def _bad_scenario(tmp_path, text, name="bad.json"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("args, fragment", [
    (["--url", "ftp://127.0.0.1:1"], "--url must be an http"),
    (["--url", "not a url"], "--url must be an http"),
    (["--users", "0"], "--users must be at least 1"),
    (["--users", "-3"], "--users must be at least 1"),
    (["--users", "many"], "'many' is not a valid integer"),
    (["--requests", "-1"], "--requests must be 0"),
    (["--duration", "-5"], "--duration must be more than 0"),
    (["--rate", "0"], "--rate must be more than 0"),
    (["--rate", "-2"], "--rate must be more than 0"),
    (["--timeout", "0"], "--timeout must be more than 0"),
    (["--think-time", "2-1"], "--think-time"),
    (["--think-time", "soon"], "--think-time"),
    (["--workers", "lots"], "--workers"),
    (["--shard", "3/2"], "--shard"),
    (["--requests", "0"], "needs --duration"),
    (["--repeat"], "--repeat needs --duration"),
    (["--max-error-rate", "2"], "--max-error-rate"),
    (["--max-p95-ms", "fast"], "--max-p95-ms"),
    (["--max-p95-ms", "nosuch=5"], "no endpoint named 'nosuch'"),
    (["--output", "/nonexistent-dir/x.json"], "does not exist"),
    (["--scenario", "missing.yaml"], "no such scenario file"),
    (["--frobnicate"], "No such option"),
    ("MALFORMED", "not valid JSON"),
    ("UNKNOWN_KEY", "endpoints[0].colour: unknown key"),
    ("BAD_YAML", "not valid YAML"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, args, fragment):
    if args == "MALFORMED":
        args = ["--scenario", _bad_scenario(tmp_path, '{"endpoints": [')]
    elif args == "UNKNOWN_KEY":
        args = ["--scenario", _bad_scenario(
            tmp_path, '{"endpoints": [{"path": "/x", "colour": "red"}]}')]
    elif args == "BAD_YAML":
        args = ["--scenario", _bad_scenario(tmp_path, "endpoints: [\n  - {path: /x\n",
                                            "bad.yaml")]
    url = f"http://127.0.0.1:{free_port()}"  # never contacted: input is checked first
    full = (["--url", url] if "--url" not in args else []) + list(args)
    result = run_tester(*full, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("load_tester.py: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content, fragment", [
    (None, "no such file"),
    ('{"tool": "memory_monitor", "schema_version": 1}', "not a load_tester report"),
    ('{"tool": "load_tester", "schema_version": 1}', "not a complete load_tester report"),
    ("[1, 2", "not valid JSON"),
])
def test_merge_rejects_bad_files(tmp_path, content, fragment):
    if content is not None:
        (tmp_path / "in.json").write_text(content)
    result = run_tester("merge", "in.json", "-o", "out.json", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_signal_during_preflight_still_writes_an_empty_incomplete_report(tmp_path):
    # A listener whose accept queue is full: the pre-flight connection hangs, so the
    # signal arrives before the first request.
    import socket
    import subprocess
    import sys

    from conftest import ROOT

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    output = tmp_path / "preflight.json"
    try:
        proc = subprocess.Popen([sys.executable, str(ROOT / "load_tester.py"), "--url",
                                 f"http://127.0.0.1:{port}", "--users", "2", "-q",
                                 "-o", str(output)], stderr=subprocess.PIPE, text=True)
        # The pre-flight has begun once the load tester is connecting to the port.
        deadline = time.monotonic() + 30
        while not any(c.raddr and c.raddr.port == port
                      for c in psutil.Process(proc.pid).net_connections(kind="tcp")):
            assert proc.poll() is None, "the pre-flight should still be waiting"
            assert time.monotonic() < deadline, "the pre-flight never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 143
        assert "Traceback" not in proc.stderr.read()
    finally:
        for filler in fillers:
            filler.close()
        server.close()
    report = json.loads(output.read_text())
    assert report["complete"] is False and report["end_reason"] == "interrupted"
    assert report["totals"]["requests"] == 0
