"""Pure pieces of the monitor and the shared helpers, on hand-built input."""

from __future__ import annotations

import json

import pytest

from memory_analysis.analysis.stats import percentile, summarize
from memory_analysis.monitor.alerts import AlertTracker
from memory_analysis.reports.jsonio import dumps_with_raw_list


def test_alerts_fire_on_crossing_not_on_every_sample():
    tracker = AlertTracker(warning=80, critical=90)
    values = [50, 81, 85, 86, 92, 95, 85, 91, 70, 82]
    fired = [tracker.check(i, "system_percent", v) for i, v in enumerate(values)]
    levels = [(a["t"], a["level"]) for a in fired if a]
    # up to warning at 1, to critical at 4, critical again after dropping below 90 at 6,
    # warning again after dropping below 80 at 8.
    assert levels == [(1, "warning"), (4, "critical"), (7, "critical"), (9, "warning")]
    first = next(a for a in fired if a)
    assert first == {"t": 1, "level": "warning", "metric": "system_percent", "value": 81,
                     "threshold": 80, "message": first["message"]}
    assert "81.0%" in first["message"] and "80%" in first["message"]


def test_alerts_track_metrics_separately_and_ignore_missing_values():
    tracker = AlertTracker(warning=50, critical=60)
    assert tracker.check(0, "system_percent", 55)["level"] == "warning"
    assert tracker.check(0, "cgroup_percent", None) is None
    assert tracker.check(1, "cgroup_percent", 65)["level"] == "critical"
    assert tracker.check(2, "system_percent", 56) is None


def test_percentile_interpolates_between_ranks():
    assert percentile([], 50) is None
    assert percentile([7], 99) == 7
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile(list(range(101)), 95) == pytest.approx(95)
    assert percentile([10, 0], 100) == 10


def test_summarize():
    assert summarize([]) == {"min": None, "mean": None, "max": None, "p95": None}
    assert summarize([1, 2, 3]) == {"min": 1, "mean": 2, "max": 3, "p95": 2.9}


def test_raw_samples_splice_into_valid_json():
    text = dumps_with_raw_list({"tool": "x", "complete": True}, "samples",
                               [json.dumps({"t": 0}), json.dumps({"t": 1})])
    assert json.loads(text) == {"tool": "x", "complete": True, "samples": [{"t": 0}, {"t": 1}]}
    assert json.loads(dumps_with_raw_list({"a": 1}, "samples", [])) == {"a": 1, "samples": []}
