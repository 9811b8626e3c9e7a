"""The load tester's building blocks on hand-built data: histograms, the mix, scenarios,
reports and their merge."""

from __future__ import annotations

import json
import random

import pytest
from hdrh.histogram import HdrHistogram

from memory_analysis.errors import BadInput
from memory_analysis.loadgen.histogram import HIGHEST_US, LatencyHistogram
from memory_analysis.loadgen.mix import Mix
from memory_analysis.loadgen.report import apply_thresholds, build_report, stats_from_report
from memory_analysis.loadgen.scenario import (
    default_scenario,
    load_scenario,
    parse_scenario,
    render,
)
from memory_analysis.loadgen.stats import EndpointStats, Interval, RunStats

# -- histogram ------------------------------------------------------------------------------


def test_fast_record_matches_hdrh_index_and_percentiles():
    rng = random.Random(3)
    values = [0, 1, 2, 1023, 1024, 2047, 2048, 4095, 4096, 123_456, HIGHEST_US]
    values += [int(rng.lognormvariate(8, 2)) % HIGHEST_US for _ in range(20_000)]
    ours = LatencyHistogram()
    reference = HdrHistogram(1, HIGHEST_US, 3)
    for v in values:
        ours.record(v)
        reference.record_value(v)
    assert list(ours._h.counts) == list(reference.counts)
    assert ours.count == reference.get_total_count() == len(values)
    for pct in (50, 90, 99, 99.9):
        assert ours.percentiles_us([pct])[pct] == reference.get_value_at_percentile(pct)


def test_histogram_add_and_encode_are_exact():
    a, b, both = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    for i in range(1, 5000):
        a.record(i * 7)
        both.record(i * 7)
    for i in range(1, 3000):
        b.record(i * 131)
        both.record(i * 131)
    merged = LatencyHistogram.decode(a.encode())
    merged.restore_bounds_ms(a.summary_ms())
    decoded_b = LatencyHistogram.decode(b.encode())
    decoded_b.restore_bounds_ms(b.summary_ms())
    merged.add(decoded_b)
    assert merged.count == both.count
    assert list(merged._h.counts) == list(both._h.counts)
    assert merged.summary_ms() == both.summary_ms()
    assert merged.summary_ms()["min"] == 0.007


def test_histogram_clamps_and_reports_empty():
    h = LatencyHistogram()
    assert h.summary_ms()["p95"] is None
    h.record(-5)
    h.record(10 * HIGHEST_US)
    assert h.count == 2
    assert h.summary_ms()["max"] >= 59_000
    with pytest.raises(ValueError):
        LatencyHistogram.decode("not a histogram")


# -- mix --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 99])
def test_mix_keeps_every_category_within_one_request_of_its_share(seed):
    scenario = default_scenario()
    categories = [e.category for e in scenario.endpoints]
    weights = [e.weight for e in scenario.endpoints]
    shares = scenario.category_shares()
    mix = Mix(categories, weights, seed)
    counts = dict.fromkeys(shares, 0)
    for n in range(1, 5001):
        counts[categories[mix.next()]] += 1
        for cat, share in shares.items():
            assert abs(counts[cat] - n * share) <= 1.0 + 1e-9, (n, cat)
    assert counts == {"light": 3000, "medium": 1500, "heavy": 500}


def test_mix_is_reproducible_and_seed_dependent():
    cats, weights = ["a", "a", "b"], [1, 2, 3]
    seq = lambda seed: [Mix(cats, weights, seed).next() for _ in range(1)]  # noqa: E731
    one = Mix(cats, weights, 5)
    two = Mix(cats, weights, 5)
    assert [one.next() for _ in range(200)] == [two.next() for _ in range(200)]
    sequences = {tuple(Mix(cats, weights, s).next() for _ in range(30)) for s in range(10)}
    assert len(sequences) > 1
    assert seq(1)


# -- scenarios ---------------------------------------------------------------------------------


def test_default_profile_has_the_seed_endpoints_and_shares():
    scenario = default_scenario()
    paths = {(e.method, e.path, e.category) for e in scenario.endpoints}
    assert paths == {
        ("GET", "/health", "light"), ("GET", "/", "light"),
        ("GET", "/data/market-status", "light"), ("GET", "/sector/list", "light"),
        ("GET", "/data/token-mapping", "light"), ("GET", "/stock/{symbol}/history", "medium"),
        ("POST", "/analyze", "heavy"), ("POST", "/analysis/enhanced", "heavy"),
        ("POST", "/technical/indicators", "heavy"), ("POST", "/patterns/detect", "heavy"),
        ("POST", "/sectors/benchmarking", "heavy"),
    }
    shares = scenario.category_shares()
    assert shares == pytest.approx({"light": 0.6, "medium": 0.3, "heavy": 0.1})
    assert {"RELIANCE", "TCS", "INFY", "HDFCBANK", "ICICIBANK", "SBIN", "ITC"} <= set(
        scenario.variables["symbol"])


def test_placeholders_render_as_text_in_strings_and_as_values_alone():
    body = {"symbol": "{symbol}", "note": "for {symbol}", "sectors": "{sectors}"}
    out = render(body, {"symbol": "TCS", "sectors": ["IT", "Auto"]})
    assert out == {"symbol": "TCS", "note": "for TCS", "sectors": ["IT", "Auto"]}


def test_scenario_defaults_and_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("endpoints:\n  - path: /x\n  - path: /y/{id}\n    method: post\n"
                    "    body: {id: '{id}'}\nvariables:\n  id: [1, 2]\n")
    scenario = load_scenario(path)
    first, second = scenario.endpoints
    assert (first.name, first.method, first.weight, first.category) == ("/x", "GET", 1.0, "light")
    assert second.method == "POST" and second.uses == ("id",)


@pytest.mark.parametrize("data, fragment", [
    ({"endpoints": [{"path": "/x", "wieght": 2}]}, "endpoints[0].wieght: unknown key"),
    ({"endpoint": []}, "endpoint: unknown key"),
    ({}, "endpoints: missing"),
    ({"endpoints": []}, "endpoints: must be a non-empty list"),
    ({"endpoints": [{"method": "GET"}]}, "endpoints[0].path: missing"),
    ({"endpoints": [{"path": "x"}]}, "endpoints[0].path: must be a string starting with '/'"),
    ({"endpoints": [{"path": "/x", "weight": 0}]}, "endpoints[0].weight: must be a number > 0"),
    ({"endpoints": [{"path": "/x", "method": "FETCH"}]}, "endpoints[0].method"),
    ({"endpoints": [{"path": "/x"}, {"path": "/x"}]}, "endpoints[1].name: duplicate"),
    ({"endpoints": [{"path": "/s/{sym}"}]}, "placeholder {sym} has no entry"),
    ({"variables": {"a": []}, "endpoints": [{"path": "/x"}]}, "variables.a: must be a non-empty"),
])
def test_bad_scenarios_name_the_file_the_key_and_the_fault(data, fragment):
    with pytest.raises(BadInput) as info:
        parse_scenario(data, "my.json")
    message = str(info.value)
    assert message.startswith("my.json: ")
    assert fragment in message


# -- reports and merge -----------------------------------------------------------------------


def _stats(seed: int, n: int) -> RunStats:
    rng = random.Random(seed)
    endpoints = [EndpointStats("a", "GET", "/a", "light", 3),
                 EndpointStats("b", "POST", "/b", "heavy", 1)]
    stats = RunStats(endpoints)
    for t in range(1, 4):
        stats.timeline.append(Interval(t=t))
    for i in range(n):
        e = endpoints[i % 2]
        v = int(rng.expovariate(1 / 5000))
        e.requests += 1
        e.hist.record(v)
        iv = stats.timeline[i % 3]
        iv.requests += 1
        iv.hist.record(v)
        if i % 10 == 0:
            e.failures += 1
            e.errors["http_500"] = e.errors.get("http_500", 0) + 1
            iv.failures += 1
    stats.duration_s = 3.0
    return stats


def test_report_round_trips_and_merge_equals_combined():
    config = {"url": "http://127.0.0.1:1", "rate": None}
    a, b = _stats(1, 1000), _stats(2, 600)
    rep_a = json.loads(json.dumps(build_report(a, config, complete=True, end_reason="finished")))
    rep_b = json.loads(json.dumps(build_report(b, config, complete=True, end_reason="finished")))
    merged = stats_from_report(rep_a, "a")
    merged.add(stats_from_report(rep_b, "b"))
    combined = _stats(1, 1000)
    combined.add(_stats(2, 600))
    got = build_report(merged, config, complete=True, end_reason="finished")
    want = build_report(combined, config, complete=True, end_reason="finished")
    for key in ("totals", "latency_ms", "errors", "categories", "endpoints", "timeline"):
        assert got[key] == want[key], key
    assert got["totals"]["requests"] == 1600
    assert got["errors"] == {"http_500": 160}


def test_thresholds_overall_and_per_endpoint():
    report = build_report(_stats(1, 1000), {"rate": None}, complete=True, end_reason="finished")
    assert apply_thresholds(report, 0.2, [(None, 60_000.0)]) == []
    broken = apply_thresholds(report, 0.05, [("a", 0.001)])
    assert {(r["name"], r["scope"]) for r in broken} == {
        ("max_error_rate", "overall"), ("max_p95_ms", "endpoint a")}
    with pytest.raises(BadInput):
        apply_thresholds(report, None, [("nope", 1.0)])


def test_the_runners_command_lines_read_back_as_the_same_configuration():
    """The runner starts the tools from their configurations: every number must come back
    exactly as it went in (no 1e-05 a range cannot hold, no six-digit rounding)."""
    from memory_analysis.cli import load_tester as load_cli
    from memory_analysis.cli import monitor as monitor_cli
    from memory_analysis.loadgen.config import LoadConfig, parse_think_time
    from memory_analysis.monitor.session import MonitorConfig

    load = LoadConfig(url="http://127.0.0.1:8000", users=3, duration_s=1234567.25,
                      think_time_s=(0.00001, 0.5), rate=0.1, timeout_s=1e-3, ramp_up_s=2.5,
                      repeat=True)
    params = load_cli.command.make_context("load_tester.py", load.to_args()).params
    assert parse_think_time(params["think_time"]) == load.think_time_s
    assert (params["duration"], params["rate"], params["timeout"], params["ramp_up"]) == (
        load.duration_s, load.rate, load.timeout_s, load.ramp_up_s)
    monitor = MonitorConfig(pid=1, interval=0.00123456789, duration=98765432.1,
                            warning=70.123456789, critical=90.0, pss_interval=2e-2)
    params = monitor_cli.command.make_context("memory_monitor.py", monitor.to_args()).params
    assert (params["interval"], params["duration"], params["warning"], params["critical"],
            params["pss_interval"]) == (monitor.interval, monitor.duration, monitor.warning,
                                        monitor.critical, monitor.pss_interval)
    # The memory the service is judged against reaches the monitor's alerts exactly.
    from memory_analysis.runner.config import RunnerConfig

    monitor = RunnerConfig().monitor_config(1, "m.json", 1536.123456789, "plan a:b")
    params = monitor_cli.command.make_context("memory_monitor.py", monitor.to_args()).params
    assert MonitorConfig(target_memory=params["target_memory"]).target_mb == 1536.123456789
    assert params["target_name"] == "plan a:b"
    assert "--target-memory" not in RunnerConfig().monitor_config(1, "m.json").to_args()
