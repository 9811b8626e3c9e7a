"""The grid the monitor's PSS reads and the logs' status lines keep to."""

from __future__ import annotations

from memory_analysis.cadence import Cadence


def test_a_tick_a_little_early_is_on_time_and_late_ones_do_not_push_the_grid():
    cadence = Cadence(1.0, slack_s=0.05)
    # Ticks every 0.1 s, each a different few ms off its due time (the first late).
    ticks = [k * 0.1 + (0.004 if k == 0 else 0.001 * (k % 3)) for k in range(0, 101)]
    due = [round(t, 1) for t in ticks if cadence.due(t)]
    assert due == [float(k) for k in range(11)]  # one a second, none skipped


def test_a_long_pause_skips_what_was_missed_rather_than_catching_up():
    cadence = Cadence(1.0)
    assert cadence.due(0.0)
    assert cadence.due(3.5)  # 1, 2 and 3 were missed: one, now
    assert not cadence.due(3.9)
    assert cadence.due(4.0)
