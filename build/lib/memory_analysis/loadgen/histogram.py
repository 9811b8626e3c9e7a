"""Latency histograms: HdrHistogram (1 µs to 60 s, 3 significant digits), added exactly.

Values are recorded in microseconds. ``record`` is the hot path of the load generator,
so it computes the counts index with ``int.bit_length`` instead of going through
hdrh's ``record_value`` (which formats the value as a binary string); the index is the
same one hdrh computes (the tests check this). Memory is fixed: ~17,400 counters per
histogram whatever the number of values recorded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000
SIGNIFICANT_DIGITS = 3

#: Percentiles every latency summary reports, as (key, percentile).
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9))


class LatencyHistogram:
    """Counts of latencies in microseconds; mergeable with ``add``, encodable to a string."""

    __slots__ = ("_h", "_counts", "_mask", "_unit", "_half_mag", "_half_count", "_len",
                 "count", "_min", "_max")

    def __init__(self, _hist: HdrHistogram | None = None) -> None:
        self._h = _hist if _hist is not None else HdrHistogram(LOWEST_US, HIGHEST_US,
                                                               SIGNIFICANT_DIGITS)
        h = self._h
        self._counts = h.counts
        self._mask = h.sub_bucket_mask
        self._unit = h.unit_magnitude
        self._half_mag = h.sub_bucket_half_count_magnitude
        self._half_count = h.sub_bucket_half_count
        self._len = h.counts_len
        self.count = int(h.total_count)
        if self.count:
            self._min = int(h.min_value) if h.min_value != sys.maxsize else 0
            self._max = int(h.max_value)
        else:
            self._min = sys.maxsize
            self._max = 0

    # -- recording ------------------------------------------------------------------
    def record(self, value_us: int) -> None:
        """Record one latency in whole microseconds (clamped to 0..60 s)."""
        if value_us < 0:
            value_us = 0
        elif value_us > HIGHEST_US:
            value_us = HIGHEST_US
        bucket = (value_us | self._mask).bit_length() - self._unit - self._half_mag - 1
        index = ((bucket + 1) << self._half_mag) + (value_us >> (bucket + self._unit)) \
            - self._half_count
        self._counts[index] += 1
        self.count += 1
        if value_us < self._min:
            self._min = value_us
        if value_us > self._max:
            self._max = value_us

    def _sync(self) -> None:
        """Hand the tracked totals to the hdrh object before it computes anything."""
        h = self._h
        h.total_count = self.count
        h.min_value = self._min if self.count else sys.maxsize
        h.max_value = self._max

    # -- combining --------------------------------------------------------------------
    def add(self, other: LatencyHistogram) -> None:
        """Add ``other``'s counts to this histogram (exact)."""
        if not other.count:
            return
        self._sync()
        other._sync()
        self._h.add(other._h)
        self.count += other.count
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        self._sync()

    @classmethod
    def merged(cls, histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
        total = cls()
        for hist in histograms:
            total.add(hist)
        return total

    # -- encoding ---------------------------------------------------------------------
    def encode(self) -> str:
        """Compressed, base64 HdrHistogram V2 string (what other HdrHistogram tools read)."""
        self._sync()
        return self._h.encode().decode("ascii")

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        """Inverse of ``encode``; ValueError when ``text`` is not an encoded histogram."""
        try:
            hist = HdrHistogram.decode(text.encode("ascii") if isinstance(text, str) else text)
        except Exception as exc:  # hdrh raises several unrelated types for bad input
            raise ValueError(f"not an encoded HdrHistogram ({exc.__class__.__name__})") from None
        result = cls()
        if hist.get_total_count():
            result._h.add(hist)
            result.count = int(hist.get_total_count())
            # the exact min/max are not encoded; the bucket bounds are the best we know
            result._min = int(hist.get_min_value())
            result._max = int(hist.get_max_value())
            result._sync()
        return result

    def restore_bounds_ms(self, summary: dict[str, float | None]) -> None:
        """Put back the exact min and max (which the encoding rounds to bucket bounds)
        from a ``summary_ms`` of the same histogram."""
        if self.count and summary.get("min") is not None and summary.get("max") is not None:
            self._min = int(round(float(summary["min"]) * 1000))  # type: ignore[arg-type]
            self._max = int(round(float(summary["max"]) * 1000))  # type: ignore[arg-type]
            self._sync()

    # -- reading ----------------------------------------------------------------------
    def percentiles_us(self, percentiles: Iterable[float]) -> dict[float, int]:
        self._sync()
        if not self.count:
            return {p: 0 for p in percentiles}
        return {p: int(v) for p, v in
                self._h.get_percentile_to_value_dict(list(percentiles)).items()}

    def summary_ms(self) -> dict[str, float | None]:
        """min, mean, p50 ... p99.9, max in milliseconds (3 decimals); None when empty."""
        keys = ["min", "mean"] + [k for k, _ in PERCENTILES] + ["max"]
        if not self.count:
            return {k: None for k in keys}
        self._sync()
        pcts = self.percentiles_us([p for _, p in PERCENTILES])
        out: dict[str, float | None] = {
            "min": round(self._min / 1000.0, 3),
            "mean": round(self._h.get_mean_value() / 1000.0, 3),
        }
        for key, pct in PERCENTILES:
            out[key] = round(pcts[pct] / 1000.0, 3)
        out["max"] = round(self._max / 1000.0, 3)
        return out

    def quick_ms(self) -> tuple[float | None, float | None]:
        """(p50, p95) in milliseconds, for timelines and live progress."""
        if not self.count:
            return None, None
        pcts = self.percentiles_us((50.0, 95.0))
        return round(pcts[50.0] / 1000.0, 3), round(pcts[95.0] / 1000.0, 3)
