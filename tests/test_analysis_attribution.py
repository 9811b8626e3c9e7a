"""Which endpoint keeps the memory (--attribute): the fit of each stretch's memory
against its own requests, on hand-built series with autocorrelated noise."""

from __future__ import annotations

import random

from corpus import Noise

from memory_analysis.analysis.analyze import analyze
from memory_analysis.analysis.attribution import (
    MB,
    MixGrowth,
    attribute,
    attribution_plan,
    mix_growth,
)
from memory_analysis.analysis.series import MemorySeries, service_memory
from memory_analysis.analysis.thresholds import ATTRIBUTE_MIN_SAMPLES

RATE = 100.0     # requests per second in every stretch
INTERVAL = 0.25  # seconds between samples
STRETCH_S = 8.0


def stretches_series(kept: dict[str, float], seed: int, noise_mb: float = 0.05,
                     phi: float = 0.7) -> tuple[MemorySeries, list[dict]]:
    """Samples through one stretch per endpoint (``kept``: bytes per request each),
    sent at ``RATE`` for ``STRETCH_S`` with a second of load tester start-up before
    each, memory carried from one stretch to the next, AR(1) noise of ``noise_mb``."""
    rng = random.Random(seed)
    count = int((STRETCH_S + 2.0) * len(kept) / INTERVAL) + 2
    noise = Noise(noise_mb, phi).series(count, rng)
    series = MemorySeries(metric="pss_tree")
    stretches = []
    level, t, i = 200.0, 100.0, 0
    for name, per_request in kept.items():
        start = t + 1.0
        timeline = [{"t": s + 1, "requests": int(RATE)} for s in range(int(STRETCH_S))]
        stretches.append({"name": name, "category": "light", "start_t": start,
                          "end_t": start + STRETCH_S, "requests": int(RATE * STRETCH_S),
                          "timeline": timeline})
        while t < start + STRETCH_S + 1.0 - 1e-9:
            sent = min(max(t - start, 0.0), STRETCH_S) * RATE
            series.t.append(round(t, 3))
            series.mb.append(level + sent * per_request / MB + noise[i])
            series.phase.append("attribute")
            series.load_users.append(0)
            series.cycle.append(1)
            series.system_percent.append(None)
            t += INTERVAL
            i += 1
        level += STRETCH_S * RATE * per_request / MB
    return series, stretches


def test_the_endpoint_that_keeps_memory_is_named_with_its_bytes():
    truth = {"track": 10_240.0, "home": 0.0, "search": 0.0}
    for seed in range(5):
        series, stretches = stretches_series(truth, seed)
        rows = attribute(series, stretches)
        assert [r["name"] for r in rows][0] == "track"
        by_name = {r["name"]: r for r in rows}
        track = by_name["track"]
        assert abs(track["bytes_per_request"] - 10_240) < 0.1 * 10_240, (seed, track)
        assert track["ci_bytes"][0] <= 10_240 <= track["ci_bytes"][1], (seed, track)
        assert track["keeps"] is True
        for other in ("home", "search"):
            low, high = by_name[other]["ci_bytes"]
            assert by_name[other]["keeps"] is False, (seed, by_name[other])
            assert high - low < 0.5 * 10_240 and low < 1_000 and high > -1_000, seed


def test_intervals_hold_the_truth_about_as_often_as_they_say():
    """Over many seeds of autocorrelated noise, the 95 % intervals of an endpoint that
    keeps nothing hold zero most of the time (not a few per cent)."""
    held = 0
    for seed in range(40):
        series, stretches = stretches_series({"a": 0.0}, seed, noise_mb=0.2, phi=0.8)
        low, high = attribute(series, stretches)[0]["ci_bytes"]
        held += low <= 0 <= high
    assert held >= 34, held


def test_two_endpoints_that_keep_memory_are_both_named_largest_first():
    series, stretches = stretches_series({"a": 2_000.0, "b": 0.0, "c": 8_000.0}, 3)
    rows = attribute(series, stretches)
    assert [r["name"] for r in rows] == ["c", "a", "b"]
    assert [r["keeps"] for r in rows] == [True, True, False]


def test_a_stretch_without_samples_has_no_figure():
    series, stretches = stretches_series({"a": 1_000.0}, 1)
    stretches[0] = {**stretches[0], "start_t": 10_000.0, "end_t": 10_008.0}
    row = attribute(series, stretches)[0]
    assert row["bytes_per_request"] is None and row["ci_bytes"] is None
    assert row["keeps"] is False


def test_the_plan_asks_enough_requests_and_keeps_within_the_cap():
    mix = MixGrowth(rise_mb=20.0, noise_mb=2.0, bytes_per_request=2_000.0)
    endpoints = [("a", "light"), ("b", "light"), ("c", "heavy")]
    plan = attribution_plan(mix, endpoints, rate_per_s=100.0, interval_s=0.5,
                            max_total_s=90.0)
    # Twice the 2 MB floor at 2,000 bytes a request: 2,097 requests, 21 s at 100/s.
    assert plan.by == "endpoint" and plan.units == ["a", "b", "c"]
    assert plan.stretch_s == 21.0 and plan.note is None
    capped = attribution_plan(mix, endpoints, 100.0, 0.5, max_total_s=45.0)
    assert capped.by == "category" and capped.units == ["light", "heavy"]
    tight = attribution_plan(mix, endpoints, 100.0, 0.5, max_total_s=20.0)
    assert tight.stretch_s == 10.0 and "wider" in (tight.note or "")
    quick = attribution_plan(MixGrowth(20.0, 2.0, 1e6), endpoints, 100.0, 0.5, 90.0)
    assert quick.stretch_s == ATTRIBUTE_MIN_SAMPLES * 0.5


def test_growth_is_seen_only_above_the_noise_floor():
    from analysis_series import flat, linear, samples

    grew = service_memory(samples(flat(100), linear(100, 0.1), flat(112), load_s=60))
    assert mix_growth(grew, 6_000).seen
    assert 900 < mix_growth(grew, 6_000).bytes_per_request < 1_200  # 6 MB / 6,000
    still = service_memory(samples(flat(100), flat(100), flat(100), load_s=60))
    assert not mix_growth(still, 6_000).seen
    assert "noise floor" in mix_growth(still, 6_000).why_not()


def test_the_stretches_leave_the_load_verdict_and_the_peak_alone():
    """Samples tagged "attribute" are neither load nor cooldown: the verdict and the
    peak are the same with them as without."""
    from analysis_series import flat, samples

    plain = samples(flat(100), flat(100), flat(100), load_s=40, cooldown_s=10)
    tagged = [dict(s) for s in plain]
    for sample in tagged[-20:-10]:  # a stretch that kept 50 MB, before the cooldown
        sample["phase"] = "attribute"
        sample["process"] = {**sample["process"], "tree_mb": sample["process"]["tree_mb"] + 50}
    before = analyze(plain, {"requests": 4000, "duration_s": 40.0})
    after = analyze(tagged, {"requests": 4000, "duration_s": 40.0},
                    {"attribution": {"skipped": "a test"}})
    assert after["memory"]["peak_mb"] == before["memory"]["peak_mb"]
    assert after["memory"]["leak"]["verdict"] == before["memory"]["leak"]["verdict"]
    assert after["phases"]["attribute"]["samples"] == 10
    assert after["memory"]["leak"]["attribution"] == {"skipped": "a test"}
    assert "attribute" not in before["phases"]


def test_the_suggestions_name_the_endpoint_or_say_attribute_would():
    from memory_analysis.analysis.suggestions import suggestions

    leak = {"suspected": True, "verdict": "leak", "follows": "requests",
            "bytes_per_request": 2_232}
    assessment = {"judged_against": {"source": "cgroup", "limit_mb": 512}}
    without = suggestions({"leak": leak, "peak_mb": 100.0}, assessment, {}, {})
    assert any("--attribute" in line and "name" in line for line in without)
    series, stretches = stretches_series({"track": 10_240.0, "home": 0.0}, 1)
    rows = attribute(series, stretches)
    named = suggestions({"leak": {**leak, "endpoints": rows,
                                  "attribution": {"by": "endpoint"}}, "peak_mb": 100.0},
                        assessment, {}, {})
    assert named[0].startswith("The memory is kept by track: track keeps about 10,")
    assert not any("run again with --attribute" in line for line in named)
