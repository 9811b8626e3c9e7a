"""Numbers as a person reads them: the one rule for how many digits a figure shows in
text, used by the analysis's sentences and by every view alike (the JSON keeps full
precision; only text is rounded here).

- A figure with an interval shows as many decimals as the interval's width warrants:
  two significant figures of its half-width, the value and both bounds to the same
  place: "2,409 MB/min (95 %: 2,401 to 2,418)", "0.42 MB/min (95 %: 0.31 to 0.53)".
- A figure alone shows three significant figures: "1,059", "12.3", "0.0821".
- Either way, nothing after the point for hundreds and up, and thousands separators.
- A price from a catalog is exact: US dollars to the cent, "$7.59" (``usd``).

Its own small module with no imports of the project, as ``levels.py`` is: the monitor
and the load tester start without importing the analysis or the views.
"""

from __future__ import annotations

import math

# Significant figures of a figure shown alone, and of an interval's half-width.
ALONE_FIGURES = 3
HALF_WIDTH_FIGURES = 2
# At and above this size a figure shows no decimals, whatever its precision.
WHOLE_FROM = 100.0


def _places_for(value: float, figures: int) -> int:
    """Decimal places that show ``value`` to ``figures`` significant figures (negative:
    rounded to tens, hundreds...), judged after the rounding (9.996 is "10.0")."""
    if value == 0 or not math.isfinite(value):
        return 0
    near = float(f"{abs(value):.{figures - 1}e}")
    return figures - 1 - math.floor(math.log10(near))


def places(value: float, low: float | None = None, high: float | None = None) -> int:
    """The decimal places ``value`` is shown to: from the interval ``low``-``high`` when
    it has a width, else from ``value`` alone; never more than none for hundreds and up."""
    if low is not None and high is not None and high != low:
        digits = _places_for(abs(high - low) / 2.0, HALF_WIDTH_FIGURES)
    else:
        digits = max(_places_for(value, ALONE_FIGURES), 0)
    if abs(value) >= WHOLE_FROM:
        digits = min(digits, 0)
    return digits


def fixed(value: float, digits: int) -> str:
    """``value`` rounded to ``digits`` decimal places (negative: to tens, hundreds...)
    with thousands separators, and never "-0"."""
    if not math.isfinite(value):
        return "for ever" if value > 0 else "-" if math.isnan(value) else "minus for ever"
    near = round(value, digits)
    if near == 0:
        near = 0.0  # not "-0"
    return f"{near:,.{max(digits, 0)}f}"


def _unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def amount(value: float | None, unit: str = "") -> str:
    """A figure alone, to three significant figures: "1,059 MB", "12.3 MB", "0.0821
    MB/min"; "-" for None."""
    if value is None:
        return "-"
    return _unit(fixed(value, places(value)), unit)


def rounded(value: float, low: float, high: float) -> tuple[str, str, str]:
    """The value and the two bounds of its interval, rounded to the same place (the one
    the interval's width warrants), for a sentence that puts them apart."""
    digits = places(value, low, high)
    return fixed(value, digits), fixed(low, digits), fixed(high, digits)


def known(value: float | None, interval: list[float] | tuple[float, float] | None = None,
          unit: str = "") -> str:
    """A figure alone, rounded as its ``interval`` warrants when it has one (the
    interval given elsewhere: a legend, a sentence), else as ``amount``."""
    if value is None:
        return "-"
    if not interval or interval[0] is None or interval[1] is None:
        return amount(value, unit)
    return _unit(rounded(value, interval[0], interval[1])[0], unit)


def with_interval(value: float | None, interval: list[float] | tuple[float, float] | None,
                  unit: str = "", lead: str = "95 %: ") -> str:
    """A figure and its interval: "2,409 MB/min (95 %: 2,401 to 2,418)"; ``lead``
    names what the interval is ("" for a plain range); a figure without an interval
    is ``amount``'s; "-" for None."""
    if value is None:
        return "-"
    if not interval or interval[0] is None or interval[1] is None:
        return amount(value, unit)
    shown, low, high = rounded(value, interval[0], interval[1])
    return f"{_unit(shown, unit)} ({lead}{low} to {high})"


def usd(value: float | None) -> str:
    """A price in US dollars, to the cent (a price from a list is exact, not measured):
    "$7.59", "$1,177.34"; "-" for None."""
    return "-" if value is None else f"${value:,.2f}"


def count(value: int | float | None) -> str:
    """A count with thousands separators: "59,539"; "-" for None."""
    return "-" if value is None else f"{round(value):,}"


def hours(value: float | None) -> str:
    """A stretch of hours as a person says it: "40 min", "2.3 h", "31 h"; "for ever"
    for None (never, at that rate), "none" for no time at all."""
    if value is None or value == math.inf:
        return "for ever"
    if value <= 0:
        return "none"
    if value < 1:
        return f"{max(value * 60, 1):.0f} min"
    return f"{value:.1f} h" if value < 10 else f"{value:,.0f} h"


def seconds(value: float) -> str:
    """A duration in seconds as a person says it: "under a second", "42 s", "12 min",
    then as ``hours``."""
    if value < 0.5:
        return "under a second"
    if value < 90:
        return f"{value:.0f} s"
    if value < 90 * 60:
        return f"{value / 60:.0f} min"
    return hours(value / 3600.0)
