"""What the demo's endpoints compute, apart from HTTP: plain arguments in, dicts out.

Validation errors raise ``RequestError`` with the HTTP status the app should answer,
so bad input is always a 4xx, never a 500.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from memory_analysis.demo import market_data, patterns, scoring, sectors
from memory_analysis.demo.cache import LRUCache
from memory_analysis.demo.indicators import all_indicators

DEFAULT_HISTORY_DAYS = 365
DEFAULT_POINTS = 250
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_symbol(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestError(400, "'symbol' must be a non-empty string")
    symbol = market_data.find_symbol(value)
    if symbol is None:
        raise RequestError(404, f"unknown symbol {value!r}")
    return symbol


def parse_interval(value: Any) -> str:
    if value is None:
        return "1D"
    if value not in market_data.INTERVALS:
        raise RequestError(400, f"'interval' must be one of {', '.join(market_data.INTERVALS)}")
    return value


def parse_count(value: Any, name: str, default: int, maximum: int) -> int:
    """A whole number 1..maximum from a query string or JSON body value."""
    if value is None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RequestError(400, f"'{name}' must be a whole number") from None
    if isinstance(value, float) or not 1 <= number <= maximum:
        raise RequestError(400, f"'{name}' must be a whole number from 1 to {maximum}")
    return number


class StockService:
    """The Stock Analyzer Pro demo: per-(symbol, interval) contexts in a bounded cache."""

    def __init__(self, cache: LRUCache) -> None:
        self.cache = cache
        # One small figures row per known symbol for sector benchmarking: bounded by the
        # symbol list, so it is not a leak.
        self._member_figures: dict[str, dict[str, Any]] = {}

    def context(self, symbol: str, interval: str) -> dict[str, Any]:
        """Bars, closes and every indicator of ``symbol`` at ``interval``, cached."""
        def build() -> dict[str, Any]:
            if interval == "1D":
                bars = market_data.daily_bars(symbol)
            else:
                bars = market_data.resample(self.context(symbol, "1D")["bars"], interval)
            closes = [bar["close"] for bar in bars]
            return {"bars": bars, "closes": closes, "indicators": all_indicators(closes)}
        return self.cache.get_or_compute((symbol, interval), build)

    # Light endpoints -------------------------------------------------------------

    @staticmethod
    def market_status(now: dt.datetime | None = None) -> dict[str, Any]:
        local = (now or dt.datetime.now(dt.UTC)).astimezone(IST)
        minutes = local.hour * 60 + local.minute
        is_open = local.weekday() < 5 and 9 * 60 + 15 <= minutes < 15 * 60 + 30
        return {"exchange": "NSE", "status": "open" if is_open else "closed",
                "time_ist": local.isoformat(timespec="seconds"),
                "session": {"open": "09:15", "close": "15:30", "timezone": "Asia/Kolkata"},
                "data_as_of": market_data.LAST_DAY.isoformat()}

    @staticmethod
    def sector_list() -> dict[str, Any]:
        return {"sectors": [{"name": name, "symbols": members}
                            for name, members in market_data.SECTORS.items()]}

    @staticmethod
    def token_mapping() -> dict[str, Any]:
        mapping = {symbol: {"token": market_data.instrument_token(symbol), "exchange": "NSE",
                            "sector": sector}
                   for symbol, (sector, _) in market_data.SYMBOLS.items()}
        return {"count": len(mapping), "mapping": mapping}

    # Medium ----------------------------------------------------------------------

    def history(self, symbol: str, days: int, interval: str) -> dict[str, Any]:
        daily = self.context(symbol, "1D")["bars"][-days:]
        bars = market_data.resample(daily, interval)
        closes = [bar["close"] for bar in bars]
        return {"symbol": symbol, "interval": interval, "days": days, "count": len(bars),
                "bars": bars,
                "summary": {"first_close": closes[0], "last_close": closes[-1],
                            "change_percent": round((closes[-1] / closes[0] - 1) * 100, 2),
                            "high": max(bar["high"] for bar in bars),
                            "low": min(bar["low"] for bar in bars),
                            "average_volume": sum(bar["volume"] for bar in bars) // len(bars)}}

    # Heavy -----------------------------------------------------------------------

    def analyze(self, symbol: str, interval: str) -> dict[str, Any]:
        ctx = self.context(symbol, interval)
        closes = ctx["closes"]
        return {"symbol": symbol, "interval": interval, "last_close": closes[-1],
                "change_percent": {"1": scoring.change_percent(closes, 1),
                                   "20": scoring.change_percent(closes, 20)},
                **scoring.signal(closes, ctx["indicators"])}

    def enhanced(self, symbol: str, interval: str) -> dict[str, Any]:
        ctx = self.context(symbol, interval)
        found = patterns.detect(ctx["bars"], ctx["indicators"])
        result = self.analyze(symbol, interval)
        result["risk"] = scoring.risk_metrics(ctx["closes"], interval)
        result["levels"] = patterns.support_resistance(ctx["closes"])
        result["recent_patterns"] = found[-10:]
        result["pattern_count"] = len(found)
        return result

    def indicators(self, symbol: str, interval: str, points: int) -> dict[str, Any]:
        ctx = self.context(symbol, interval)
        dates = [bar["date"] for bar in ctx["bars"][-points:]]
        series = {name: [None if v is None else round(v, 4) for v in values[-points:]]
                  for name, values in ctx["indicators"].items()}
        return {"symbol": symbol, "interval": interval, "points": len(dates),
                "dates": dates, "indicators": series}

    def detect_patterns(self, symbol: str, interval: str) -> dict[str, Any]:
        ctx = self.context(symbol, interval)
        found = patterns.detect(ctx["bars"], ctx["indicators"])
        counts: dict[str, int] = {}
        for item in found:
            counts[item["pattern"]] = counts.get(item["pattern"], 0) + 1
        return {"symbol": symbol, "interval": interval, "count": len(found), "counts": counts,
                "patterns": found[-50:]}

    def benchmark(self, names: Any) -> dict[str, Any]:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise RequestError(400, "'sectors' must be a non-empty list of sector names")
        chosen = []
        for name in names:
            sector = market_data.find_sector(name)
            if sector is None:
                known = ", ".join(market_data.SECTORS)
                raise RequestError(404, f"unknown sector {name!r} (known: {known})")
            if sector not in chosen:
                chosen.append(sector)
        return self.cache.get_or_compute(("sectors", tuple(sorted(chosen))),
                                         lambda: sectors.benchmark(chosen, self._figures_of))

    async def warm_figures(self) -> None:
        """Fill the benchmarking figures one symbol at a time, yielding to the event loop
        between symbols, so the first benchmarking request does not stall the service
        for the ~0.7 s that all of them take at once."""
        for symbol in market_data.SYMBOLS:
            self._figures_of(symbol)
            await asyncio.sleep(0)

    def _figures_of(self, symbol: str) -> dict[str, Any]:
        if symbol not in self._member_figures:
            self._member_figures[symbol] = sectors.member_figures(
                symbol, [bar["close"] for bar in market_data.daily_bars(symbol)])
        return self._member_figures[symbol]
