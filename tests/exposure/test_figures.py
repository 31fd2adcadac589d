"""Today's exposure figures (``exposure.service.summarize``): viewing time, the caps with
their warning and block, a supervisor's extensions, and the break reminder. Pure: reveals and
extensions in, figures out; the pages that show them are tested in tests/console."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from takedown.config import Settings
from takedown.exposure import service as exposure
from takedown.exposure.models import ExposureExtension, ItemReveal

NINE = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
USER = uuid.uuid4()


def shown(start: datetime, seconds: int | None) -> ItemReveal:
    """A reveal at ``start``, hidden ``seconds`` later (None: still open)."""
    hidden = None if seconds is None else start + timedelta(seconds=seconds)
    return ItemReveal(
        user_id=USER, case_id=USER, item_id=uuid.uuid4(), revealed_at=start, hidden_at=hidden
    )


def figures(
    reveals: list[ItemReveal],
    now: datetime,
    extensions: list[ExposureExtension] | None = None,
    **caps: object,
) -> exposure.Exposure:
    settings = Settings(**caps)  # type: ignore[arg-type]
    return exposure.summarize(reveals, extensions or [], settings, now)


def test_viewing_time_is_capped_per_reveal_and_counts_open_reveals() -> None:
    now = NINE + timedelta(hours=2)
    rows = [
        shown(NINE, 30),  # 30 s
        shown(NINE + timedelta(minutes=10), None),  # left open: counts 300 s at most
        shown(now - timedelta(seconds=20), None),  # open now: 20 s so far
    ]
    result = figures(rows, now)
    assert result.reveals == 3
    assert result.seconds == 30 + 300 + 20
    assert result.status is exposure.ExposureStatus.OK


def test_yesterday_does_not_count() -> None:
    now = datetime(2026, 11, 23, 0, 5, tzinfo=UTC)
    result = figures([shown(now - timedelta(minutes=10), 60)], now)
    assert result.reveals == 0
    assert result.seconds == 0
    assert result.day.isoformat() == "2026-11-23"


def test_warn_then_blocked_at_either_cap() -> None:
    caps = {"exposure_daily_reveals": 10, "exposure_daily_minutes": 100}
    now = NINE + timedelta(hours=8)
    eight = [shown(NINE + timedelta(minutes=i), 1) for i in range(8)]
    assert figures(eight[:7], now, **caps).status is exposure.ExposureStatus.OK
    assert figures(eight, now, **caps).status is exposure.ExposureStatus.WARN
    ten = [shown(NINE + timedelta(minutes=i), 1) for i in range(10)]
    assert figures(ten, now, **caps).status is exposure.ExposureStatus.BLOCKED
    # 20 reveals of 5 minutes each are 100 minutes: the minutes cap, whatever the reveals.
    long = [shown(NINE + timedelta(minutes=6 * i), 300) for i in range(20)]
    assert figures(long, now, **caps | {"exposure_daily_reveals": 100}).blocked


def test_extensions_of_the_day_raise_the_caps() -> None:
    now = NINE + timedelta(hours=1)
    rows = [shown(NINE + timedelta(minutes=i), 1) for i in range(2)]
    extension = ExposureExtension(
        user_id=USER, day="2026-11-22", extra_reveals=3, extra_minutes=0, reason="x"
    )
    old = ExposureExtension(
        user_id=USER, day="2026-11-21", extra_reveals=50, extra_minutes=0, reason="x"
    )
    blocked = figures(rows, now, [old], exposure_daily_reveals=2)
    assert blocked.blocked
    lifted = figures(rows, now, [extension, old], exposure_daily_reveals=2)
    assert not lifted.blocked
    assert lifted.reveal_cap == 5
    assert lifted.reveals_left == 3


def test_break_reminder_after_an_hour_without_a_ten_minute_pause() -> None:
    # A reveal every 5 minutes from 9:00: no pause of 10 minutes.
    rows = [shown(NINE + timedelta(minutes=5 * i), 60) for i in range(14)]
    at_50 = figures(rows[:11], NINE + timedelta(minutes=51))
    assert not at_50.break_due
    at_66 = figures(rows, NINE + timedelta(minutes=66))
    assert at_66.break_due
    assert at_66.streak_minutes == 66


def test_a_ten_minute_pause_is_a_break() -> None:
    before = [shown(NINE + timedelta(minutes=5 * i), 60) for i in range(10)]  # 9:00-9:46
    after = [shown(NINE + timedelta(minutes=60 + 5 * i), 60) for i in range(4)]  # from 10:00
    result = figures(before + after, NINE + timedelta(minutes=76))
    assert not result.break_due
    assert result.streak_minutes == 16
    # Not revealing for 10 minutes now is a break too.
    assert figures(before, NINE + timedelta(minutes=57)).streak_minutes == 0
