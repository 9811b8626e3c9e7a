"""Technical indicators over a list of prices, in pure Python.

Each returns a list as long as its input, with None where the window is not yet full,
so every series lines up with the bars it was computed from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Series = list[float | None]


def sma(values: Sequence[float], window: int) -> Series:
    """Simple moving average over ``window`` values."""
    out: Series = [None] * len(values)
    running = 0.0
    for i, value in enumerate(values):
        running += value
        if i >= window:
            running -= values[i - window]
        if i >= window - 1:
            out[i] = running / window
    return out


def ema(values: Sequence[float], window: int) -> Series:
    """Exponential moving average, seeded with the SMA of the first ``window`` values."""
    out: Series = [None] * len(values)
    if len(values) < window:
        return out
    alpha = 2.0 / (window + 1)
    current = sum(values[:window]) / window
    out[window - 1] = current
    for i in range(window, len(values)):
        current = alpha * values[i] + (1 - alpha) * current
        out[i] = current
    return out


def rsi(values: Sequence[float], window: int = 14) -> Series:
    """Relative strength index (0-100) with Wilder's smoothing."""
    out: Series = [None] * len(values)
    if len(values) <= window:
        return out
    gains = losses = 0.0
    for i in range(1, window + 1):
        change = values[i] - values[i - 1]
        gains += max(change, 0.0)
        losses += max(-change, 0.0)
    avg_gain, avg_loss = gains / window, losses / window
    for i in range(window, len(values)):
        if i > window:
            change = values[i] - values[i - 1]
            avg_gain = (avg_gain * (window - 1) + max(change, 0.0)) / window
            avg_loss = (avg_loss * (window - 1) + max(-change, 0.0)) / window
        out[i] = 100.0 if avg_loss == 0 else 100.0 - 100.0 / (1 + avg_gain / avg_loss)
    return out


def macd(values: Sequence[float], fast: int = 12, slow: int = 26,
         signal: int = 9) -> dict[str, Series]:
    """MACD line (fast EMA − slow EMA), its signal line (EMA of the line) and histogram."""
    fast_ema, slow_ema = ema(values, fast), ema(values, slow)
    line: Series = [f - s if f is not None and s is not None else None
                    for f, s in zip(fast_ema, slow_ema, strict=True)]
    first = next((i for i, v in enumerate(line) if v is not None), len(line))
    signal_tail = ema([v for v in line[first:] if v is not None], signal)
    signal_line: Series = [None] * first
    signal_line += signal_tail
    histogram: Series = [m - s if m is not None and s is not None else None
                         for m, s in zip(line, signal_line, strict=True)]
    return {"macd": line, "signal": signal_line, "histogram": histogram}


def bollinger(values: Sequence[float], window: int = 20,
              width: float = 2.0) -> dict[str, Series]:
    """Bollinger bands: the SMA and ``width`` population standard deviations around it."""
    middle = sma(values, window)
    upper: Series = [None] * len(values)
    lower: Series = [None] * len(values)
    for i in range(window - 1, len(values)):
        mean = middle[i]
        assert mean is not None
        chunk = values[i - window + 1:i + 1]
        deviation = math.sqrt(sum((v - mean) ** 2 for v in chunk) / window)
        upper[i] = mean + width * deviation
        lower[i] = mean - width * deviation
    return {"upper": upper, "middle": middle, "lower": lower}


def all_indicators(closes: Sequence[float]) -> dict[str, Series]:
    """Every indicator the demo serves, by name."""
    series: dict[str, Series] = {
        "sma_20": sma(closes, 20), "sma_50": sma(closes, 50), "sma_200": sma(closes, 200),
        "ema_12": ema(closes, 12), "ema_26": ema(closes, 26), "rsi_14": rsi(closes, 14),
    }
    for name, values in macd(closes).items():
        series[name if name == "macd" else f"macd_{name}"] = values
    for name, values in bollinger(closes).items():
        series[f"bb_{name}"] = values
    return series


def last_value(series: Series) -> float | None:
    """The latest non-None value of a series, rounded for display."""
    for value in reversed(series):
        if value is not None:
            return round(value, 4)
    return None
