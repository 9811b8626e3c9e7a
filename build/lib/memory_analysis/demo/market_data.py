"""Synthetic, deterministic market data for the demo service.

Every symbol gets the same five years of daily OHLCV bars on every run and every
machine: the random generator is seeded from the symbol's name (CRC-32, not ``hash``,
which Python salts per process). Pure Python on purpose: the demo should spend its
memory and CPU the way a plain Python service does, without numpy's buffers.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zlib
from typing import Any

# NSE large caps (Nifty 50 members and a few more): sector and a plausible start price (INR).
SYMBOLS: dict[str, tuple[str, float]] = {
    "RELIANCE": ("Energy", 2450.0), "ONGC": ("Energy", 180.0), "NTPC": ("Energy", 170.0),
    "POWERGRID": ("Energy", 210.0), "BPCL": ("Energy", 380.0), "COALINDIA": ("Energy", 230.0),
    "IOC": ("Energy", 90.0), "ADANIENT": ("Energy", 2200.0),
    "ADANIPORTS": ("Infrastructure", 780.0),
    "TCS": ("IT", 3600.0), "INFY": ("IT", 1500.0), "WIPRO": ("IT", 420.0),
    "HCLTECH": ("IT", 1150.0), "TECHM": ("IT", 1100.0), "LTIM": ("IT", 5000.0),
    "HDFCBANK": ("Banking", 1600.0), "ICICIBANK": ("Banking", 900.0), "SBIN": ("Banking", 560.0),
    "KOTAKBANK": ("Banking", 1800.0), "AXISBANK": ("Banking", 850.0),
    "INDUSINDBK": ("Banking", 1200.0), "BAJFINANCE": ("Financial Services", 6800.0),
    "BAJAJFINSV": ("Financial Services", 1500.0), "HDFCLIFE": ("Financial Services", 600.0),
    "SBILIFE": ("Financial Services", 1200.0), "SHRIRAMFIN": ("Financial Services", 1800.0),
    "ITC": ("FMCG", 400.0), "HINDUNILVR": ("FMCG", 2550.0), "NESTLEIND": ("FMCG", 2200.0),
    "BRITANNIA": ("FMCG", 4500.0), "TATACONSUM": ("FMCG", 850.0),
    "SUNPHARMA": ("Pharma", 1000.0), "DRREDDY": ("Pharma", 5000.0), "CIPLA": ("Pharma", 1000.0),
    "DIVISLAB": ("Pharma", 3600.0), "APOLLOHOSP": ("Pharma", 4800.0),
    "MARUTI": ("Auto", 9000.0), "TATAMOTORS": ("Auto", 450.0), "M&M": ("Auto", 1300.0),
    "BAJAJ-AUTO": ("Auto", 4000.0), "EICHERMOT": ("Auto", 3300.0), "HEROMOTOCO": ("Auto", 2800.0),
    "TATASTEEL": ("Metals", 110.0), "JSWSTEEL": ("Metals", 700.0), "HINDALCO": ("Metals", 450.0),
    "BHARTIARTL": ("Telecom", 750.0), "LT": ("Infrastructure", 2100.0),
    "ULTRACEMCO": ("Infrastructure", 7000.0), "GRASIM": ("Infrastructure", 1700.0),
    "ASIANPAINT": ("Consumer", 3100.0), "TITAN": ("Consumer", 2500.0),
    "TRENT": ("Consumer", 1400.0),
}

SECTORS: dict[str, list[str]] = {}
for _symbol, (_sector, _) in SYMBOLS.items():
    SECTORS.setdefault(_sector, []).append(_symbol)

INTERVALS = ("1D", "1W", "1M")
HISTORY_DAYS = 1250  # about five years of trading days
# A fixed last trading day, so the history does not shift with the calendar.
LAST_DAY = dt.date(2024, 12, 31)


def find_symbol(name: str) -> str | None:
    """The canonical symbol for ``name`` (case-insensitive), or None when unknown."""
    upper = name.strip().upper()
    return upper if upper in SYMBOLS else None


def find_sector(name: str) -> str | None:
    """The canonical sector name for ``name`` (case-insensitive), or None when unknown."""
    wanted = name.strip().lower()
    return next((sector for sector in SECTORS if sector.lower() == wanted), None)


def instrument_token(symbol: str) -> int:
    """A stable broker-style instrument token for ``symbol``."""
    return 100000 + zlib.crc32(symbol.encode()) % 9000000


def trading_days(count: int, last: dt.date = LAST_DAY) -> list[dt.date]:
    """The ``count`` weekdays up to and including ``last``, oldest first."""
    days: list[dt.date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    days.reverse()
    return days


def daily_bars(symbol: str) -> list[dict[str, Any]]:
    """HISTORY_DAYS daily OHLCV bars of ``symbol`` (a known symbol), oldest first.

    A geometric random walk whose drift changes every few months, so trends, reversals
    and crossovers show up for the indicators and pattern detectors to find.
    """
    sector, price = SYMBOLS[symbol]
    rng = random.Random(zlib.crc32(symbol.encode()))
    volatility = 0.012 + rng.random() * 0.012  # daily, 1.2 % to 2.4 %
    drift = 0.0
    base_volume = rng.randint(500_000, 8_000_000)
    bars = []
    for index, day in enumerate(trading_days(HISTORY_DAYS)):
        if index % 63 == 0:  # a new regime about every quarter
            drift = rng.gauss(0.0004, 0.0015)
        change = drift + rng.gauss(0.0, volatility)
        open_ = price * (1 + rng.gauss(0.0, volatility / 3))
        close = max(open_ * math.exp(change), 1.0)
        high = max(open_, close) * (1 + abs(rng.gauss(0.0, volatility / 2)))
        low = min(open_, close) * (1 - abs(rng.gauss(0.0, volatility / 2)))
        volume = int(base_volume * (1 + abs(change) * 30) * rng.uniform(0.6, 1.4))
        bars.append({
            "date": day.isoformat(), "open": round(open_, 2), "high": round(high, 2),
            "low": round(low, 2), "close": round(close, 2), "volume": volume,
        })
        price = close
    return bars


def resample(bars: list[dict[str, Any]], interval: str) -> list[dict[str, Any]]:
    """Daily bars combined into weekly ("1W") or monthly ("1M") bars; "1D" as given."""
    if interval == "1D":
        return bars
    out: list[dict[str, Any]] = []
    current_key = None
    for bar in bars:
        day = dt.date.fromisoformat(bar["date"])
        key = day.isocalendar()[:2] if interval == "1W" else (day.year, day.month)
        if key != current_key:
            current_key = key
            out.append(dict(bar))
            continue
        merged = out[-1]
        merged["high"] = max(merged["high"], bar["high"])
        merged["low"] = min(merged["low"], bar["low"])
        merged["close"] = bar["close"]
        merged["volume"] += bar["volume"]
        merged["date"] = bar["date"]  # a bar is dated by its last trading day
    return out
