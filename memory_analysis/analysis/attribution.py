"""Which endpoint keeps the memory: growth measured against each endpoint's own requests.

A leak found under a mix of requests is stated per request of the whole mix ("about
2,232 bytes kept per request"), which reads as if every request kept that much. With
``--attribute`` the runner, after the load, sends each endpoint (or category) alone for
a short stretch, at the load's users or rate; here each stretch's memory is fitted
against the requests sent within it (least squares, ``growth.fit_shapes`` with the
linear shape only, so the interval counts the noise's autocorrelation and its slow
wander as the leak verdict's does), which gives the bytes each request of that endpoint
keeps, with an interval.

    plan = attribution_plan(mix, units, rate_per_s, interval_s, max_total_s)
    rows = attribute(series, stretches)  # the report's memory.leak.endpoints

Pure: plain data in, plain data out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from memory_analysis.analysis.growth import FAMILIES, Points, bound_errors, fit_shapes
from memory_analysis.analysis.leak import LoadSegment, requests_by
from memory_analysis.analysis.memory import baseline_mb, noise_floor_mb
from memory_analysis.analysis.series import MemorySeries
from memory_analysis.analysis.stats import linear_fit
from memory_analysis.analysis.thresholds import (
    ATTRIBUTE_ALPHA,
    ATTRIBUTE_MIN_SAMPLES,
    ATTRIBUTE_SIGNAL_FACTOR,
    MIN_LEAK_GROWTH_MB,
    MIN_TREND_POINTS,
)

MB = 1024 * 1024
LINEAR = tuple(f for f in FAMILIES if f.name == "linear")


@dataclass(frozen=True)
class MixGrowth:
    """How the load's memory grew against its requests: the rise over the load phase
    (MB, from a least-squares line), the noise floor it is judged against (MB,
    ``memory.noise_floor_mb``), and the bytes per request of the whole mix."""

    rise_mb: float | None
    noise_mb: float | None
    bytes_per_request: float | None

    @property
    def seen(self) -> bool:
        """Growth clear of the noise floor: worth attributing."""
        return (self.rise_mb is not None and self.noise_mb is not None
                and self.rise_mb >= self.noise_mb)

    def why_not(self) -> str:
        if self.rise_mb is None:
            return "too few memory samples under load to tell whether memory grew"
        return (f"memory rose {self.rise_mb:.1f} MB under load, under the "
                f"{self.noise_mb or 0:.1f} MB noise floor: nothing to attribute")


def mix_growth(series: MemorySeries, requests: int) -> MixGrowth:
    """The load phase's growth (``series`` tagged with phases, the load's ``requests``)."""
    t, mb = series.points("load")
    fit = linear_fit(t, mb) if len(t) >= MIN_TREND_POINTS else None
    base = baseline_mb(series)
    if fit is None or base is None:
        return MixGrowth(None, None, None)
    rise = fit[0] * (t[-1] - t[0])
    per_request = rise * MB / requests if requests > 0 and rise > 0 else None
    return MixGrowth(rise, noise_floor_mb(series, base), per_request)


@dataclass(frozen=True)
class AttributionPlan:
    """What the runner sends after the load: ``by`` "endpoint" or "category", one
    stretch of ``stretch_s`` seconds per unit, and why that long (``note`` when the cap
    cut the stretches shorter than the evidence asks)."""

    by: str
    units: list[str]
    stretch_s: float
    note: str | None = None

    @property
    def total_s(self) -> float:
        return self.stretch_s * len(self.units)


def stretch_needed_s(mix: MixGrowth, rate_per_s: float, interval_s: float) -> float:
    """Seconds one stretch needs: enough requests for an endpoint keeping the mix's
    average bytes per request to grow ``ATTRIBUTE_SIGNAL_FACTOR`` times the noise floor
    within it (an endpoint keeping more shows sooner), and ``ATTRIBUTE_MIN_SAMPLES``
    samples at least, so the fit has points to count the noise's autocorrelation on."""
    least = ATTRIBUTE_MIN_SAMPLES * interval_s
    if not mix.bytes_per_request or not mix.noise_mb or rate_per_s <= 0:
        return least
    requests = ATTRIBUTE_SIGNAL_FACTOR * mix.noise_mb * MB / mix.bytes_per_request
    return max(least, requests / rate_per_s)


def attribution_plan(mix: MixGrowth, endpoints: list[tuple[str, str]], rate_per_s: float,
                     interval_s: float, max_total_s: float) -> AttributionPlan:
    """One stretch per endpoint ((name, category) pairs) when they fit in
    ``max_total_s`` at the length needed (``stretch_needed_s``), else one per category;
    when even those do not, the categories share ``max_total_s`` and ``note`` says the
    intervals will be wider than asked."""
    needed = stretch_needed_s(mix, rate_per_s, interval_s)
    names = [name for name, _ in endpoints]
    categories = list(dict.fromkeys(category for _, category in endpoints))
    if len(names) * needed <= max_total_s or len(categories) >= len(names):
        by, units = "endpoint", names
    else:
        by, units = "category", categories
    stretch = needed
    note = None
    if len(units) * needed > max_total_s:
        stretch = max_total_s / len(units)
        note = (f"each {by} got {stretch:.0f} s, not the {needed:.0f} s the evidence asks "
                f"(--attribute-max {max_total_s:g}): the intervals are wider")
    elif by == "category":
        note = (f"{len(names)} endpoints at {needed:.0f} s each would take longer than "
                f"--attribute-max {max_total_s:g} s: attributed by category")
    return AttributionPlan(by, units, round(stretch, 1), note)


@dataclass(frozen=True)
class Stretch:
    """One attribution stretch: the endpoint (or category) sent alone, and its run of
    the load tester on the samples' clock (``segment``: when its requests left, how
    many, its per-second rows)."""

    name: str
    category: str
    segment: LoadSegment

    @classmethod
    def of(cls, data: dict[str, Any]) -> Stretch:
        return cls(data["name"], data.get("category") or data["name"], LoadSegment.of(data))


def _points(series: MemorySeries, stretch: Stretch) -> Points:
    """The stretch's samples while requests were being sent, against the requests sent
    by each (the load tester's start-up and exit, which move a Python service's PSS
    share of the interpreter, fall outside)."""
    segment = stretch.segment
    counted = [row["t"] for row in segment.timeline or [] if row.get("requests")]
    last = segment.start_t + max(counted) if counted else segment.end_t
    xs, ys, ts = [], [], []
    for t, mb in zip(series.t, series.mb, strict=True):
        if segment.start_t <= t <= last:
            xs.append(requests_by(t, [segment]))
            ys.append(mb)
            ts.append(t)
    return Points(xs, ys, [0] * len(xs), ts)


def fit_stretch(series: MemorySeries, stretch: Stretch) -> dict[str, Any]:
    """One row of ``memory.leak.endpoints``: the bytes each request of the stretch kept,
    with a two-sided interval at ``ATTRIBUTE_ALPHA`` (None when too few samples)."""
    row: dict[str, Any] = {"name": stretch.name, "category": stretch.category,
                           "requests": stretch.segment.requests, "bytes_per_request": None,
                           "ci_bytes": None, "samples": 0, "keeps": False}
    points = _points(series, stretch)
    row["samples"] = len(points.x)
    fitted = fit_shapes(points, LINEAR) if points.x else None
    if fitted is None:
        return row
    shapes, noise = fitted
    line = shapes[0]
    slope = line.best.coef[0]
    margin = bound_errors(line, noise, [1.0]).margin(ATTRIBUTE_ALPHA / 2.0)
    if not math.isfinite(margin):
        return row
    row["bytes_per_request"] = round(slope * MB)
    row["ci_bytes"] = [round((slope - margin) * MB), round((slope + margin) * MB)]
    return row


def attribute(series: MemorySeries, stretches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's ``memory.leak.endpoints``: one row per stretch, largest keeper
    first. ``keeps`` marks the endpoints that keep memory: their interval lies above
    zero and above every interval that reaches down to zero, and what they kept in
    their stretch is at least ``MIN_LEAK_GROWTH_MB`` (less is not called a leak
    anywhere: an allocator's arena, pages touched for the first time)."""
    rows = [fit_stretch(series, Stretch.of(s)) for s in stretches]
    rows.sort(key=lambda r: -(r["bytes_per_request"] if r["bytes_per_request"] is not None
                              else -math.inf))
    clean = [r["ci_bytes"][1] for r in rows if r["ci_bytes"] and r["ci_bytes"][0] <= 0]
    ceiling = max(clean, default=0)
    for row in rows:
        ci = row["ci_bytes"]
        row["keeps"] = bool(ci and ci[0] > 0 and ci[0] > ceiling
                            and row["bytes_per_request"] * row["requests"]
                            >= MIN_LEAK_GROWTH_MB * MB)
    return rows


def kept_by(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the endpoints that keep memory (``attribute``), largest first."""
    return [row for row in rows if row.get("keeps")]


def endpoint_text(row: dict[str, Any]) -> str:
    """"track keeps about 10,281 bytes (10.0 KB) per request (95 %: 9,800 to 10,700)"."""
    value = row["bytes_per_request"]
    low, high = row["ci_bytes"]
    return (f"{row['name']} keeps about {value:,} bytes ({value / 1024:.1f} KB) per request "
            f"({(1 - ATTRIBUTE_ALPHA) * 100:.0f} %: {low:,} to {high:,})")
