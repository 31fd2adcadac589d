"""The daily aggregates: each ended UTC day's unfiltered counts, written once into
``stats_daily`` so that figures stay right after retention purges the rows they count.

Which figures come from them: the counts of ``service.COUNTERS`` when no filter is asked for
(list and exposure counts with filters too, as they ignore them). Times, shares, per-org
notices, list size, appeals decided and every filtered count are computed from the rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.intake.models import Report
from takedown.stats.filters import Filters
from takedown.stats.models import StatsDaily
from takedown.stats.service import COUNTERS

# One run catches up this many days at most; the next run goes on (the job is periodic).
DAYS_PER_RUN: Final = 62


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def aggregate_day(session: Session, day: date) -> None:
    """Write ``day``'s counts (a day already written is left as it is)."""
    done = session.scalar(select(func.count()).where(StatsDaily.day == day.isoformat()))
    if done:
        return
    start = _midnight(day)
    end = start + timedelta(days=1)
    for name, counter in COUNTERS.items():
        value = counter(session, start, end, Filters())
        session.add(StatsDaily(day=day.isoformat(), metric=name, value=value))
    session.flush()


def aggregate(session: Session, now: datetime) -> list[date]:
    """Aggregate the ended days not yet written, oldest first; returns the days written.

    It starts after the last day written, or at the first report's day on a fresh system,
    and stops at yesterday: today is not over."""
    last = session.scalar(select(func.max(StatsDaily.day)))
    if last is not None:
        first = date.fromisoformat(last) + timedelta(days=1)
    else:
        earliest = session.scalar(select(func.min(Report.received_at)))
        if earliest is None:
            return []
        first = earliest.astimezone(UTC).date()
    written: list[date] = []
    day = first
    while day < now.astimezone(UTC).date() and len(written) < DAYS_PER_RUN:
        aggregate_day(session, day)
        written.append(day)
        day += timedelta(days=1)
    return written
