"""How many digits a figure shows in text (memory_analysis/numbers.py)."""

from __future__ import annotations

import pytest

from memory_analysis.numbers import (
    amount,
    count,
    fixed,
    hours,
    known,
    rounded,
    seconds,
    usd,
    with_interval,
)


@pytest.mark.parametrize(("value", "text"), [
    (1059.4, "1,059"), (12.345, "12.3"), (0.08214, "0.0821"), (59539.2, "59,539"),
    (3.0, "3.00"), (9.996, "10.0"), (0.0, "0"), (-2.34, "-2.34"), (-1234.5, "-1,234"),
    (-0.0004, "-0.000400"),
])
def test_a_figure_alone_has_three_significant_figures_and_no_decimals_from_hundreds(
        value: float, text: str) -> None:
    assert amount(value) == text


def test_a_unit_follows_after_a_space_and_none_is_a_dash() -> None:
    assert amount(135.2, "MB") == "135 MB"
    assert amount(None, "MB") == "-"
    assert with_interval(None, [1.0, 2.0], "MB") == "-"


@pytest.mark.parametrize(("value", "interval", "text"), [
    (2409.442, [2401.1, 2418.0], "2,409 MB/min (95 %: 2,401 to 2,418)"),
    (1060.809, [1055.168, 1066.45], "1,061 MB/min (95 %: 1,055 to 1,066)"),
    (0.42, [0.31, 0.53], "0.42 MB/min (95 %: 0.31 to 0.53)"),
    (0.4217, [0.4101, 0.4333], "0.422 MB/min (95 %: 0.410 to 0.433)"),
    # A wide interval rounds the value as coarsely as it is known.
    (5432.0, [4198.0, 6666.0], "5,400 MB/min (95 %: 4,200 to 6,700)"),
    (-0.8, [-1.9, 0.3], "-0.8 MB/min (95 %: -1.9 to 0.3)"),
    # Tiny around zero: no "-0".
    (-0.003, [-0.6, 0.6], "0.00 MB/min (95 %: -0.60 to 0.60)"),
])
def test_a_figure_with_an_interval_is_rounded_with_it_to_what_the_width_warrants(
        value: float, interval: list[float], text: str) -> None:
    assert with_interval(value, interval, "MB/min") == text


def test_a_zero_width_or_missing_interval_falls_back_to_the_figure_alone() -> None:
    assert with_interval(12.3456, [12.3456, 12.3456], "MB") == "12.3 MB (95 %: 12.3 to 12.3)"
    assert with_interval(12.3456, None, "MB") == "12.3 MB"
    assert with_interval(12.3456, [None, 3.0], "MB") == "12.3 MB"  # type: ignore[list-item]
    assert with_interval(150.0, [100.0, 200.0], "MB", lead="") == "150 MB (100 to 200)"


def test_rounded_gives_the_three_at_one_place_for_a_sentence_that_puts_them_apart() -> None:
    assert rounded(2409.442, 2401.1, 2418.0) == ("2,409", "2,401", "2,418")
    assert rounded(1.5, 0.25, 2.5) == ("1.5", "0.2", "2.5")  # half-width 1.1: one decimal


def test_counts_fixed_places_and_seconds() -> None:
    assert count(59539) == "59,539" and count(None) == "-"
    assert fixed(-0.01, 1) == "0.0" and fixed(1234.5, -2) == "1,200"
    assert fixed(float("inf"), 1) == "for ever"
    assert seconds(0.2) == "under a second" and seconds(0.0) == "under a second"
    assert seconds(42.4) == "42 s" and seconds(150) == "2 min"
    assert seconds(7200) == "2.0 h" and seconds(40 * 3600) == "40 h"
    assert hours(None) == "for ever" and hours(0) == "none" and hours(0.5) == "30 min"


def test_known_gives_the_figure_alone_as_its_interval_warrants() -> None:
    assert known(2409.442, [2401.1, 2418.0], "MB/min") == "2,409 MB/min"
    assert known(0.4217, [0.31, 0.53]) == "0.42"
    assert known(0.4217, None, "MB/min") == "0.422 MB/min"
    assert known(0.4217, [None, None]) == "0.422"  # type: ignore[list-item]
    assert known(None) == "-"


def test_a_price_shows_to_the_cent() -> None:
    assert usd(7.592) == "$7.59" and usd(25) == "$25.00" and usd(1177.344) == "$1,177.34"
    assert usd(0) == "$0.00" and usd(None) == "-"
