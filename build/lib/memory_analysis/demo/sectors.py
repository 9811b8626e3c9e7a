"""Sector benchmarking: how each sector's members did against the whole market."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memory_analysis.demo.market_data import SECTORS, SYMBOLS
from memory_analysis.demo.scoring import change_percent, risk_metrics

# Look-back windows in trading days.
PERIODS = {"1M": 21, "3M": 63, "1Y": 252}


def member_figures(symbol: str, closes: list[float]) -> dict[str, Any]:
    figures: dict[str, Any] = {"symbol": symbol, "close": closes[-1]}
    for label, days in PERIODS.items():
        figures[f"return_{label}_percent"] = change_percent(closes, days)
    figures.update(risk_metrics(closes[-252:], "1D"))
    return figures


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 2) if present else None


def benchmark(sectors: list[str],
              figures_of: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Average returns and volatility of each sector in ``sectors``, ranked by 1-year return,
    and each sector's return relative to the average of every known symbol.

    ``figures_of(symbol)`` gives a symbol's ``member_figures`` (the service memoises them).
    """
    market = [figures_of(s) for s in SYMBOLS]
    market_1y = _mean([m["return_1Y_percent"] for m in market])
    by_symbol = {m["symbol"]: m for m in market}
    rows = []
    for sector in sectors:
        members = [by_symbol[s] for s in SECTORS[sector]]
        row: dict[str, Any] = {"sector": sector, "members": len(members)}
        for label in PERIODS:
            row[f"return_{label}_percent"] = _mean([m[f"return_{label}_percent"] for m in members])
        row["volatility_percent"] = _mean([m["volatility_percent"] for m in members])
        ranked = sorted(members, key=lambda m: m["return_1Y_percent"] or 0.0)
        row["best"] = ranked[-1]["symbol"]
        row["worst"] = ranked[0]["symbol"]
        one_year = row["return_1Y_percent"]
        row["relative_1Y_percent"] = (round(one_year - market_1y, 2)
                                      if one_year is not None and market_1y is not None else None)
        row["constituents"] = [dict(m) for m in members]
        rows.append(row)
    rows.sort(key=lambda r: r["return_1Y_percent"] or 0.0, reverse=True)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return {"market_return_1Y_percent": market_1y, "sectors": rows}
