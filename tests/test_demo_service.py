"""The demo service as a real process on a real port: every endpoint, bad input, the
cache bound, the leak switch, and a clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from demo_helpers import ROOT, Demo

from memory_analysis.demo import market_data

HEAVY = ["/analyze", "/analysis/enhanced", "/technical/indicators", "/patterns/detect"]


@pytest.fixture(scope="module")
def demo():
    service = Demo("--cache-entries", "4")
    yield service
    assert service.stop() == 0


@pytest.mark.parametrize("path, keys", [
    ("/health", {"status", "service", "uptime_s", "cache_entries"}),
    ("/", {"service", "endpoints", "symbols", "intervals"}),
    ("/data/market-status", {"exchange", "status", "time_ist", "session"}),
    ("/sector/list", {"sectors"}),
    ("/data/token-mapping", {"count", "mapping"}),
])
def test_light_endpoints(demo, path, keys):
    data = demo.get_ok(path)
    assert keys <= set(data)


def test_index_lists_every_default_profile_path(demo):
    endpoints = demo.get_ok("/")["endpoints"]
    for expected in ["GET /health", "GET /data/market-status", "GET /sector/list",
                     "GET /data/token-mapping", "GET /stock/{symbol}/history",
                     "POST /sectors/benchmarking", *(f"POST {p}" for p in HEAVY)]:
        assert expected in endpoints


def test_sector_list_and_token_mapping_cover_the_large_caps(demo):
    sectors = {s["name"]: s["symbols"] for s in demo.get_ok("/sector/list")["sectors"]}
    for name in ["IT", "Banking", "FMCG", "Energy", "Pharma", "Auto"]:
        assert sectors[name]
    mapping = demo.get_ok("/data/token-mapping")["mapping"]
    for symbol in ["RELIANCE", "TCS", "INFY", "HDFCBANK", "ICICIBANK", "SBIN", "ITC"]:
        assert mapping[symbol]["exchange"] == "NSE"


def test_history_shape_and_query(demo):
    data = demo.get_ok("/stock/RELIANCE/history?days=30")
    assert data["symbol"] == "RELIANCE" and data["count"] == 30 and len(data["bars"]) == 30
    bar = data["bars"][-1]
    assert set(bar) == {"date", "open", "high", "low", "close", "volume"}
    body_low, body_high = sorted((bar["open"], bar["close"]))
    assert bar["low"] <= body_low <= body_high <= bar["high"]
    assert demo.get_ok("/stock/tcs/history")["count"] == 365  # default days, any case
    weekly = demo.get_ok("/stock/TCS/history?days=60&interval=1W")
    assert weekly["interval"] == "1W" and 11 <= weekly["count"] <= 14


def test_history_is_deterministic_across_processes(demo):
    first = demo.get_ok("/stock/INFY/history?days=100")
    assert demo.get_ok("/stock/INFY/history?days=100") == first
    other = Demo()
    try:
        assert other.get_ok("/stock/INFY/history?days=100") == first
    finally:
        assert other.stop() == 0
    assert demo.get_ok("/stock/TCS/history?days=100")["bars"] != first["bars"]


@pytest.mark.parametrize("path", HEAVY)
@pytest.mark.parametrize("interval", ["1D", "1W", "1M"])
def test_heavy_endpoints(demo, path, interval):
    data = demo.get_ok(path, {"symbol": "HDFCBANK", "interval": interval})
    assert data["symbol"] == "HDFCBANK" and data["interval"] == interval
    if path == "/analyze":
        assert data["recommendation"] in {"buy", "hold", "sell"}
        assert {"sma_50", "ema_12", "rsi_14", "macd", "bb_upper"} <= set(data["latest"])
    elif path == "/analysis/enhanced":
        assert {"risk", "levels", "recent_patterns", "recommendation"} <= set(data)
    elif path == "/technical/indicators":
        expected = {"sma_20", "ema_26", "rsi_14", "macd", "macd_signal", "bb_lower"}
        assert expected <= set(data["indicators"])
        assert all(len(s) == data["points"] for s in data["indicators"].values())
    else:
        assert data["count"] >= len(data["patterns"]) and isinstance(data["counts"], dict)


def test_sector_benchmarking(demo):
    data = demo.get_ok("/sectors/benchmarking",
                       {"sectors": ["IT", "Banking", "FMCG", "Energy", "Pharma", "Auto"]})
    rows = data["sectors"]
    assert [r["rank"] for r in rows] == list(range(1, 7))
    assert {r["sector"] for r in rows} == {"IT", "Banking", "FMCG", "Energy", "Pharma", "Auto"}
    assert all(r["best"] in market_data.SECTORS[r["sector"]] for r in rows)


@pytest.mark.parametrize("path, body, raw, status", [
    ("/analyze", None, b"{not json", 400),
    ("/analyze", None, b"\xff\xfe", 400),
    ("/analyze", None, b"", 400),
    ("/analyze", [1, 2], None, 400),
    ("/analyze", {"interval": "1D"}, None, 400),
    ("/analyze", {"symbol": 42}, None, 400),
    ("/analyze", {"symbol": "NOSUCH"}, None, 404),
    ("/patterns/detect", {"symbol": "TCS", "interval": "5m"}, None, 400),
    ("/technical/indicators", {"symbol": "TCS", "points": 0}, None, 400),
    ("/sectors/benchmarking", {"sectors": []}, None, 400),
    ("/sectors/benchmarking", {"sectors": "IT"}, None, 400),
    ("/sectors/benchmarking", {"sectors": ["Shipping"]}, None, 404),
    ("/stock/NOSUCH/history", None, None, 404),
    ("/stock/TCS/history?days=abc", None, None, 400),
    ("/stock/TCS/history?days=100000", None, None, 400),
    ("/stock/TCS/history?interval=1Y", None, None, 400),
])
def test_bad_input_is_a_4xx_with_a_reason(demo, path, body, raw, status):
    got, data = demo.request(path, body, raw, method="POST" if (body or raw is not None) else None)
    assert got == status
    assert data["error"]


def test_cache_stays_at_its_cap(demo):
    symbols = list(market_data.SYMBOLS)[:12]
    for symbol in symbols:
        demo.get_ok("/analyze", {"symbol": symbol, "interval": "1D"})
    cache = demo.get_ok("/debug/stats")["cache"]
    assert cache["entries"] == cache["max_entries"] == 4
    assert cache["evictions"] >= len(symbols) - 4
    assert demo.get_ok("/health")["cache_entries"] == 4


def test_rss_settles_once_the_cache_is_full():
    """Each 1D context is about 1 MB: 30 more distinct symbols past the cap would add about
    30 MB without the bound; with it, RSS stays within a few MB."""
    service = Demo("--cache-entries", "6")
    try:
        symbols = list(market_data.SYMBOLS)
        for symbol in symbols[:12]:  # fill the cache and churn it once
            service.get_ok("/analyze", {"symbol": symbol, "interval": "1D"})
        settled_kb = service.rss_kb()
        for symbol in symbols[12:42]:
            service.get_ok("/analyze", {"symbol": symbol, "interval": "1D"})
        grown_kb = service.rss_kb() - settled_kb
        assert grown_kb < 8 * 1024, f"RSS grew {grown_kb} KB with a full cache"
        assert service.get_ok("/debug/stats")["cache"]["entries"] == 6
    finally:
        assert service.stop() == 0


def test_leak_kb_keeps_that_much_per_request():
    leak_kb, requests = 200, 150
    service = Demo("--leak-kb", str(leak_kb))
    try:
        for _ in range(5):  # warm up the request path itself
            service.get_ok("/health")
        before_kb = service.rss_kb()
        for _ in range(requests):
            service.get_ok("/health")
        grown_kb = service.rss_kb() - before_kb
        expected_kb = leak_kb * requests
        assert 0.85 * expected_kb <= grown_kb <= 1.25 * expected_kb, (grown_kb, expected_kb)
        stats = service.get_ok("/debug/stats")
        # Every counted request leaks; /debug/* is neither counted nor leaks.
        assert stats["leak"]["chunks"] == stats["requests"] == requests + 5
        assert stats["leak"]["retained_kb"] == (requests + 5) * leak_kb
    finally:
        assert service.stop() == 0


def test_cache_ttl_lets_idle_entries_go():
    service = Demo("--cache-ttl", "0.5")
    try:
        for symbol in ["TCS", "INFY", "SBIN"]:
            service.get_ok("/analyze", {"symbol": symbol, "interval": "1M"})
        # Each entry is there or, on a machine slow enough to take half a second over
        # three requests, already expired.
        cache = service.get_ok("/debug/stats")["cache"]
        assert cache["entries"] + cache["expirations"] >= 3
        deadline = time.monotonic() + 5
        while service.get_ok("/debug/stats")["cache"]["entries"] and time.monotonic() < deadline:
            time.sleep(0.2)
        cache = service.get_ok("/debug/stats")["cache"]
        assert cache["entries"] == 0 and cache["expirations"] >= 3
    finally:
        assert service.stop() == 0


def test_sigint_stops_cleanly():
    service = Demo()
    service.get_ok("/health")
    assert service.stop(signal.SIGINT) == 0


@pytest.mark.parametrize("args", [["--port", "-1"], ["--leak-kb", "-5"], ["--cache-entries", "x"]])
def test_bad_options_exit_2(args):
    done = subprocess.run([sys.executable, "-m", "memory_analysis.demo", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "error" in done.stderr


def test_port_in_use_is_one_clear_line(demo):
    port = demo.url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "memory_analysis.demo", "--port", port], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("cannot listen on") and "Traceback" not in done.stderr
