"""Chart pattern detection over OHLCV bars and their indicators.

Deliberately plain loops over every bar: the heavy endpoints should cost real CPU
and allocate real objects, as the service they stand in for does.
"""

from __future__ import annotations

from typing import Any

from memory_analysis.demo.indicators import Series


def _crossings(fast: Series, slow: Series) -> list[tuple[int, str]]:
    """Indexes where ``fast`` crosses ``slow``: ("up" | "down")."""
    out = []
    for i in range(1, len(fast)):
        a0, b0, a1, b1 = fast[i - 1], slow[i - 1], fast[i], slow[i]
        if None in (a0, b0, a1, b1):
            continue
        if a0 <= b0 and a1 > b1:  # type: ignore[operator]
            out.append((i, "up"))
        elif a0 >= b0 and a1 < b1:  # type: ignore[operator]
            out.append((i, "down"))
    return out


def _candles(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for i in range(1, len(bars)):
        prev, bar = bars[i - 1], bars[i]
        body = abs(bar["close"] - bar["open"])
        span = bar["high"] - bar["low"] or 1e-9
        lower_wick = min(bar["open"], bar["close"]) - bar["low"]
        if body / span < 0.1:
            found.append({"pattern": "doji", "index": i, "direction": "neutral",
                          "strength": round(1 - body / span, 3)})
        elif lower_wick > 2 * body and bar["close"] > bar["open"]:
            found.append({"pattern": "hammer", "index": i, "direction": "bullish",
                          "strength": round(min(lower_wick / span, 1.0), 3)})
        prev_bear = prev["close"] < prev["open"]
        prev_bull = prev["close"] > prev["open"]
        if (prev_bear and bar["close"] > bar["open"] and bar["open"] <= prev["close"]
                and bar["close"] >= prev["open"]):
            found.append({"pattern": "bullish_engulfing", "index": i, "direction": "bullish",
                          "strength": round(body / span, 3)})
        elif (prev_bull and bar["close"] < bar["open"] and bar["open"] >= prev["close"]
                and bar["close"] <= prev["open"]):
            found.append({"pattern": "bearish_engulfing", "index": i, "direction": "bearish",
                          "strength": round(body / span, 3)})
    return found


def local_extremes(closes: list[float], radius: int = 5) -> tuple[list[int], list[int]]:
    """Indexes of local maxima and minima: the extreme of the ``radius`` bars either side."""
    peaks, troughs = [], []
    for i in range(radius, len(closes) - radius):
        window = closes[i - radius:i + radius + 1]
        if closes[i] == max(window):
            peaks.append(i)
        elif closes[i] == min(window):
            troughs.append(i)
    return peaks, troughs


def _double(closes: list[float], points: list[int], name: str, direction: str,
            tolerance: float = 0.02) -> list[dict[str, Any]]:
    """Two neighbouring extremes within ``tolerance`` of each other: double top/bottom."""
    found = []
    for a, b in zip(points, points[1:], strict=False):
        if 5 <= b - a <= 60 and abs(closes[a] - closes[b]) <= tolerance * closes[a]:
            found.append({"pattern": name, "index": b, "direction": direction,
                          "strength": round(1 - abs(closes[a] - closes[b]) / closes[a], 3)})
    return found


def support_resistance(closes: list[float], lookback: int = 120) -> dict[str, float | None]:
    """Nearest support and resistance: recent troughs below and peaks above the last close."""
    recent = closes[-lookback:]
    if not recent:
        return {"support": None, "resistance": None}
    peaks, troughs = local_extremes(recent, radius=3)
    last = recent[-1]
    below = [recent[i] for i in troughs if recent[i] < last]
    above = [recent[i] for i in peaks if recent[i] > last]
    return {"support": round(max(below), 2) if below else round(min(recent), 2),
            "resistance": round(min(above), 2) if above else round(max(recent), 2)}


def detect(bars: list[dict[str, Any]], indicators: dict[str, Series]) -> list[dict[str, Any]]:
    """All patterns found, oldest first, each dated by its bar."""
    closes = [bar["close"] for bar in bars]
    found = _candles(bars)
    peaks, troughs = local_extremes(closes)
    found += _double(closes, peaks, "double_top", "bearish")
    found += _double(closes, troughs, "double_bottom", "bullish")
    for i, way in _crossings(indicators["sma_50"], indicators["sma_200"]):
        found.append({"pattern": "golden_cross" if way == "up" else "death_cross", "index": i,
                      "direction": "bullish" if way == "up" else "bearish", "strength": 1.0})
    for i, way in _crossings(indicators["macd"], indicators["macd_signal"]):
        found.append({"pattern": f"macd_cross_{way}", "index": i,
                      "direction": "bullish" if way == "up" else "bearish", "strength": 0.5})
    rsi = indicators["rsi_14"]
    for i in range(1, len(rsi)):
        before, now = rsi[i - 1], rsi[i]
        if before is None or now is None:
            continue
        if before <= 70 < now:
            found.append({"pattern": "rsi_overbought", "index": i, "direction": "bearish",
                          "strength": round(now / 100, 3)})
        elif before >= 30 > now:
            found.append({"pattern": "rsi_oversold", "index": i, "direction": "bullish",
                          "strength": round(1 - now / 100, 3)})
    found.sort(key=lambda item: item["index"])
    for item in found:
        item["date"] = bars[item["index"]]["date"]
    return found
