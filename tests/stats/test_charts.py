"""Charts keep every period on their axis."""

from __future__ import annotations

import re

from takedown.stats import charts
from takedown.stats.timings import Timing

EMPTY = Timing(cases=0, happened=0, median=None, p90=None, within_24h=0, within_3d=0)
SOME = Timing(cases=4, happened=3, median=7200, p90=90000, within_24h=2, within_3d=3)


def test_the_trend_shows_quiet_periods_at_either_end() -> None:
    """Weeks without a removal at the start or end stay on the axis (they were dropped)."""
    points = [("W1", EMPTY), ("W2", EMPTY), ("W3", SOME), ("W4", SOME), ("W5", EMPTY)]
    chart = charts.removal_trend(points)
    ticks = set(re.findall(r'id="[^"]*xtick_(\d+)"', chart.svg))
    assert len(ticks) == len(points)
    assert [row[0] for row in chart.rows] == ["W1", "W2", "W3", "W4", "W5"]
