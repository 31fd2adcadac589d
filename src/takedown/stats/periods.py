"""Periods of time for figures: a day, an ISO week, a month, a year or custom days, in UTC.

A period is half-open, ``[start, end)``: an event at midnight belongs to the day it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

from takedown.errors import ValidationFailed

Kind = Literal["day", "week", "month", "year", "custom"]
KINDS: Final = ("day", "week", "month", "year", "custom")
# Custom periods are bounded so that one request cannot ask for centuries of figures.
MAX_CUSTOM_DAYS: Final = 3660

_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"\d{4}")


@dataclass(frozen=True)
class Period:
    kind: str
    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date like 2026-11-22, not {text!r}") from None


def _fail(kind: str, text: str, example: str) -> ValidationFailed:
    return ValidationFailed(f"a {kind} period's date looks like {example}, not {text!r}")


def parse(
    kind: str,
    when: str | None,
    *,
    today: date,
    start: str | None = None,
    end: str | None = None,
) -> Period:
    """The period ``kind`` that ``when`` names; the one containing ``today`` without ``when``.

    ``day``: 2026-11-22; ``week``: 2026-W47 (ISO, Monday first) or any date in it;
    ``month``: 2026-11; ``year``: 2026; ``custom``: ``start`` and ``end`` days, both included.
    """
    if kind == "custom":
        if start is None or end is None:
            raise ValidationFailed("a custom period needs both 'from' and 'to' dates")
        first, last = _date(start, "from"), _date(end, "to")
        if last < first:
            raise ValidationFailed("'to' must not be before 'from'")
        if (last - first).days >= MAX_CUSTOM_DAYS:
            raise ValidationFailed(f"a custom period is at most {MAX_CUSTOM_DAYS} days")
        return Period(
            "custom", f"{first}..{last}", _midnight(first), _midnight(last + timedelta(days=1))
        )
    if kind == "day":
        day = _date(when, "date") if when else today
        return Period("day", day.isoformat(), _midnight(day), _midnight(day + timedelta(days=1)))
    if kind == "week":
        return _week(when, today)
    if kind == "month":
        return _month(when, today)
    if kind == "year":
        if when is None:
            year = today.year
        elif _YEAR.fullmatch(when) and 1 <= int(when) <= 9998:
            year = int(when)
        else:
            raise _fail("year", when, "2026")
        return Period(
            "year", str(year), _midnight(date(year, 1, 1)), _midnight(date(year + 1, 1, 1))
        )
    raise ValidationFailed(f"period must be one of {', '.join(KINDS)}, not {kind!r}")


def _week(when: str | None, today: date) -> Period:
    if when is None:
        day = today
    elif found := _WEEK.fullmatch(when):
        try:
            day = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise _fail("week", when, "2026-W47") from None
    else:
        try:
            day = date.fromisoformat(when)
        except ValueError:
            raise _fail("week", when, "2026-W47") from None
    monday = day - timedelta(days=day.weekday())
    year, week, _ = monday.isocalendar()
    return Period(
        "week", f"{year}-W{week:02d}", _midnight(monday), _midnight(monday + timedelta(days=7))
    )


def _month(when: str | None, today: date) -> Period:
    if when is None:
        year, month = today.year, today.month
    elif (found := _MONTH.fullmatch(when)) and 1 <= int(found[2]) <= 12 and int(found[1]) < 9999:
        year, month = int(found[1]), int(found[2])
    else:
        raise _fail("month", when, "2026-11")
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period("month", f"{year}-{month:02d}", _midnight(first), _midnight(following))
