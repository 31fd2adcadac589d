"""The daily aggregates keep the counts of ended days after their rows are gone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takedown.intake.models import Report
from takedown.stats import daily, periods, service
from takedown.stats.filters import Filters
from takedown.stats.models import StatsDaily
from tests.stats.seed import DECEMBER, NOVEMBER, seed

MONTH = periods.parse("month", "2026-11", today=NOVEMBER.date())


def test_counts_survive_a_purge_once_aggregated(db: Session) -> None:
    seed(db)
    before = service.figures(db, MONTH, Filters()).counts
    written = daily.aggregate(db, DECEMBER + timedelta(hours=1))
    # From the first report's day (in October) to the last ended day, November 30th.
    assert written[-1] == (DECEMBER - timedelta(days=1)).date()
    assert daily.aggregate(db, DECEMBER + timedelta(hours=2)) == []  # each day once

    db.execute(delete(Report).where(Report.received_at < DECEMBER))  # retention's purge
    after = service.figures(db, MONTH, Filters())
    assert after.counts == before
    assert "reports_received" in after.from_aggregates
    # Filtered counts are computed from the rows still kept.
    filtered = service.figures(db, MONTH, Filters(country="DE"))
    assert filtered.counts["reports_received"] == 0


def test_days_not_aggregated_are_counted_from_rows(db: Session) -> None:
    seed(db)
    daily.aggregate_day(db, NOVEMBER.date() + timedelta(days=1))  # only the 2nd
    assert db.scalar(select(func.count()).select_from(StatsDaily)) == len(service.COUNTERS)
    # The period mixes one aggregated day with live days and counts each report once.
    figures = service.figures(db, MONTH, Filters())
    assert figures.counts["reports_received"] == 6
    assert figures.counts["duplicates_folded"] == 1
