"""Summaries a trader reads: returns, risk, and a buy/hold/sell signal from indicators."""

from __future__ import annotations

import math
from typing import Any

from memory_analysis.demo.indicators import Series, last_value

# Trading periods per year, to annualise volatility and Sharpe by bar interval.
PERIODS_PER_YEAR = {"1D": 252, "1W": 52, "1M": 12}


def returns(closes: list[float]) -> list[float]:
    """Simple returns between consecutive closes."""
    return [b / a - 1 for a, b in zip(closes, closes[1:], strict=False) if a]


def change_percent(closes: list[float], periods: int) -> float | None:
    """Percent change of the close over the last ``periods`` bars."""
    if len(closes) <= periods:
        return None
    return round((closes[-1] / closes[-1 - periods] - 1) * 100, 2)


def risk_metrics(closes: list[float], interval: str) -> dict[str, float | None]:
    """Annualised volatility (%), Sharpe ratio (no risk-free rate) and max drawdown (%)."""
    rets = returns(closes)
    if len(rets) < 2:
        return {"volatility_percent": None, "sharpe": None, "max_drawdown_percent": None}
    per_year = PERIODS_PER_YEAR[interval]
    mean = sum(rets) / len(rets)
    deviation = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
    peak, drawdown = closes[0], 0.0
    for close in closes:
        peak = max(peak, close)
        drawdown = max(drawdown, 1 - close / peak)
    return {
        "volatility_percent": round(deviation * math.sqrt(per_year) * 100, 2),
        "sharpe": round(mean / deviation * math.sqrt(per_year), 3) if deviation else None,
        "max_drawdown_percent": round(drawdown * 100, 2),
    }


def signal(closes: list[float], indicators: dict[str, Series]) -> dict[str, Any]:
    """A score from −3 to +3 (trend, momentum, MACD) and the recommendation it maps to."""
    latest = {name: last_value(series) for name, series in indicators.items()}
    close = closes[-1]
    reasons, score = [], 0
    if latest["sma_50"] is not None and latest["sma_200"] is not None:
        up = latest["sma_50"] > latest["sma_200"]
        score += 1 if up else -1
        reasons.append("50-day average above 200-day" if up else "50-day average below 200-day")
    if latest["rsi_14"] is not None:
        if latest["rsi_14"] > 70:
            score -= 1
            reasons.append(f"RSI {latest['rsi_14']:.0f}: overbought")
        elif latest["rsi_14"] < 30:
            score += 1
            reasons.append(f"RSI {latest['rsi_14']:.0f}: oversold")
    if latest["macd"] is not None and latest["macd_signal"] is not None:
        up = latest["macd"] > latest["macd_signal"]
        score += 1 if up else -1
        reasons.append("MACD above its signal" if up else "MACD below its signal")
    if latest["bb_upper"] is not None and close > latest["bb_upper"]:
        reasons.append("close above the upper Bollinger band")
    recommendation = "buy" if score >= 2 else "sell" if score <= -2 else "hold"
    return {"score": score, "recommendation": recommendation, "reasons": reasons,
            "latest": latest}
