"""Leak verdict on hand-built series: real growth flagged, warm-up and retention not."""

from __future__ import annotations

import pytest
from analysis_series import decaying, flat, linear, samples, saturating

from memory_analysis.analysis.leak import bytes_per_request, leak_verdict, requests_between
from memory_analysis.analysis.series import service_memory


def verdict(data, requests=None, load_duration_s=None, noise_mb=2.0):
    return leak_verdict(service_memory(data), requests, load_duration_s, noise_mb)


def test_memory_that_keeps_growing_and_stays_is_a_leak():
    # 0.5 MB/s through the whole load at 100 requests/s: about 5243 bytes per request.
    data = samples(flat(60), linear(60, 0.5), flat(120))
    leak = verdict(data, requests=12_000, load_duration_s=120)
    assert leak["suspected"] is True
    assert leak["confidence"] == "high"
    assert leak["slope_mb_per_min"] == pytest.approx(30, rel=0.05)
    assert leak["bytes_per_request"] == pytest.approx(0.5 * 1024 * 1024 / 100, rel=0.05)
    assert "kept growing" in leak["reason"] and "not given back" in leak["reason"]


def test_a_slow_noisy_leak_is_still_found():
    data = samples(flat(80), linear(80, 0.1), flat(92), noise_mb=0.8, seed=7)
    leak = verdict(data)
    assert leak["suspected"] is True
    assert leak["confidence"] in {"high", "medium"}
    assert leak["bytes_per_request"] is None  # no request count given


def test_cache_that_fills_then_stays_flat_is_not_a_leak():
    data = samples(flat(60), saturating(60, 30, tau_s=8), flat(90))
    leak = verdict(data, requests=12_000, load_duration_s=120)
    assert leak["suspected"] is False
    assert leak["confidence"] == "high"
    assert "levelled off" in leak["reason"]
    assert abs(leak["slope_mb_per_min"]) < 1.0


def test_pymalloc_style_retention_is_not_a_leak():
    """Memory jumps under load, then stays almost as high after it: held, not growing."""
    data = samples(flat(50), saturating(50, 45, tau_s=3), decaying(95, 4, tau_s=10))
    leak = verdict(data)
    assert leak["suspected"] is False
    assert "retained, not leaked" in leak["reason"]


def test_a_cache_still_filling_but_slowing_is_warm_up():
    data = samples(flat(60), saturating(60, 40, tau_s=30), flat(99.3), noise_mb=0.1)
    leak = verdict(data)
    assert leak["suspected"] is False
    assert leak["confidence"] == "low"
    assert "warming up" in leak["reason"]


def test_growth_given_back_in_the_cooldown_is_not_a_leak():
    data = samples(flat(60), linear(60, 0.2), decaying(84, 22, tau_s=3))
    leak = verdict(data)
    assert leak["suspected"] is False
    assert "came back in the cooldown" in leak["reason"]


def test_growth_with_no_load_is_a_leak():
    data = samples(flat(60), flat(70), linear(70, 0.5))
    leak = verdict(data)
    assert leak["suspected"] is True
    assert "no load" in leak["reason"]


def test_gc_spikes_do_not_make_a_leak():
    data = samples(flat(60), flat(75), flat(75))
    for index in range(100, len(data), 37):  # a few isolated 15 MB spikes late in the run
        data[index]["process"]["tree_mb"] += 15
    assert verdict(data)["suspected"] is False


def test_leak_without_cooldown_is_at_most_medium_confidence():
    data = samples(flat(60), linear(60, 0.5), flat(0), cooldown_s=0)
    leak = verdict(data)
    assert leak["suspected"] is True
    assert leak["confidence"] == "medium"
    assert "no cooldown" in leak["reason"]


def test_too_few_load_samples_give_no_verdict():
    data = samples(flat(60), linear(60, 1), flat(60), load_s=2)
    leak = verdict(data)
    assert leak["suspected"] is False and leak["confidence"] == "none"


def test_bytes_per_request():
    assert bytes_per_request(1.0, 1000, 10) == round(1024 * 1024 / 100)
    assert bytes_per_request(-0.5, 1000, 10) == 0
    assert bytes_per_request(1.0, 0, 10) is None
    assert bytes_per_request(1.0, 100, None) is None


def test_requests_between_shares_cut_seconds():
    timeline = [{"t": 1, "requests": 10}, {"t": 2, "requests": 20}, {"t": 3, "requests": 30}]
    assert requests_between(timeline, 0, 3) == 60
    assert requests_between(timeline, 0.5, 2.5) == 5 + 20 + 15


def test_bytes_per_request_uses_the_rate_inside_the_trend_window():
    """Load ramps from 50 to 150 requests/s while each request keeps 10 KB: the average
    rate would overstate the bytes per request; the window's rate gets them right."""
    kept_mb = 10 / 1024
    timeline = [{"t": s, "requests": 50 if s <= 60 else 150} for s in range(1, 121)]

    def load(t):  # memory follows the requests sent so far
        return 60 + kept_mb * (50 * min(t, 60) + 150 * max(t - 60, 0))
    data = samples(flat(60), load, flat(load(120)), noise_mb=0.05)
    series = service_memory(data)
    total = sum(s["requests"] for s in timeline)
    averaged = leak_verdict(series, total, 120)
    windowed = leak_verdict(series, total, 120, timeline=timeline, load_start_t=30.0)
    assert windowed["suspected"] is True
    assert windowed["bytes_per_request"] == pytest.approx(10 * 1024, rel=0.03)
    assert averaged["bytes_per_request"] > 1.3 * 10 * 1024
