"""Figures broken down for charts: time to removal in buckets and per week or month, cases by
outcome and by hosting country. Each is a few SQL aggregates over the period's cohort (the
cases first reported in it, as ``service`` counts times), never rows loaded into Python.

Removal is counted up to the end of the whole period, for every part of it alike: a case
reported on the last day of January and removed on the second of February counts as removed
in January's cohort of a yearly chart, as it does in the year's own median.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseState
from takedown.stats.filters import OUTCOMES, Filters, case_conditions
from takedown.stats.periods import Period
from takedown.stats.scorecards import Scorecard, scorecards
from takedown.stats.service import Figures, figures
from takedown.stats.sql import count_if, seconds_between
from takedown.stats.timings import NO_CASES, Timing, cohort_conditions, confirmed_by, timings

HOUR: Final = 3600
# Upper bounds (seconds, included) of the histogram's buckets, and their labels.
BUCKETS: Final = (
    (24 * HOUR, "≤ 24 h"),
    (72 * HOUR, "1-3 days"),
    (7 * 24 * HOUR, "3-7 days"),
    (14 * 24 * HOUR, "1-2 weeks"),
    (30 * 24 * HOUR, "2-4 weeks"),
)
LATER: Final = "over 4 weeks"
NOT_YET: Final = "not yet removed"


@dataclass(frozen=True)
class Bucket:
    label: str
    cases: int


def removal_buckets(session: Session, period: Period, filters: Filters) -> list[Bucket]:
    """The cohort's confirmed cases by time from first report to removal; the last bucket
    holds those still up at the end of the period."""
    secs = seconds_between(Case.first_reported_at, Case.removed_at)
    removed = Case.removed_at < period.end
    columns = []
    low = -1
    for high, _ in BUCKETS:
        columns.append(count_if(removed & (secs > low) & (secs <= high)))
        low = high
    columns.append(count_if(removed & (secs > low)))
    columns.append(count_if(~removed | Case.removed_at.is_(None)))
    row = session.execute(
        select(*columns).where(*cohort_conditions(period, filters), confirmed_by(period.end))
    ).one()
    labels = [label for _, label in BUCKETS] + [LATER, NOT_YET]
    return [Bucket(label, int(n)) for label, n in zip(labels, row, strict=True)]


def parts(period: Period) -> list[Period]:
    """The period cut into days (up to two weeks), ISO weeks (up to three months) or months,
    each clipped to the period."""
    if period.days <= 14:
        step = "day"
    elif period.days <= 92:
        step = "week"
    else:
        step = "month"
    found: list[Period] = []
    start = period.start
    while start < period.end:
        day = start.date()
        if step == "day":
            following, label = day + timedelta(days=1), day.isoformat()
        elif step == "week":
            following = day - timedelta(days=day.weekday()) + timedelta(days=7)
            year, week, _ = day.isocalendar()
            label = f"{year}-W{week:02d}"
        else:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            label = f"{day.year}-{day.month:02d}"
        end = min(_midnight(following, start), period.end)
        found.append(Period(step, label, start, end))
        start = end
    return found


def _midnight(day: date, like: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=like.tzinfo)


def removal_by_part(session: Session, period: Period, filters: Filters) -> list[tuple[str, Timing]]:
    """Time to removal of each part's cohort (see ``parts``), counted to the period's end.

    One query for every part (the part's number is the group): a query per part would read
    the period's case events once per week or month.
    """
    cut = parts(period)
    part = case(*((Case.first_reported_at < p.end, n) for n, p in enumerate(cut)), else_=len(cut))
    cohort = select(
        part.label("grp"),
        Case.first_reported_at.label("started"),
        Case.removed_at.label("happened"),
    ).where(*cohort_conditions(period, filters), confirmed_by(period.end))
    found = timings(session, cohort, period.end)
    return [(p.label, found.get(n, NO_CASES)) for n, p in enumerate(cut)]


def by_outcome(session: Session, period: Period, filters: Filters) -> dict[str, int]:
    """The cohort's cases by where they are now (``filters.OUTCOMES``)."""
    outcome = case(
        (Case.removed_at.is_not(None), "removed"),
        (Case.state == CaseState.CONFIRMED, "confirmed"),
        (Case.state == CaseState.NOT_ILLEGAL, "not_illegal"),
        (Case.state.in_((CaseState.NEW, CaseState.AWAITING_ASSESSMENT)), "pending"),
        else_="other",
    )
    found = dict.fromkeys(OUTCOMES, 0)
    query = (
        select(outcome, func.count()).where(*cohort_conditions(period, filters)).group_by(outcome)
    )
    for name, number in session.execute(query):
        if name in found:
            found[name] = int(number)
    return found


def by_country(session: Session, period: Period, filters: Filters) -> list[tuple[str, int]]:
    """The cohort's cases per hosting country (a case hosted in two counts in both), most
    first. The distinct country lists are few; each country is then one count."""
    from takedown.tracing.models import Trace

    cohort = select(Case.id).where(*cohort_conditions(period, filters))
    lists = session.scalars(
        select(Trace.countries).where(Trace.case_id.in_(cohort), Trace.countries != "").distinct()
    )
    codes = sorted({code.strip().upper() for text in lists for code in text.split(",") if code})
    found = []
    for code in codes:
        narrowed = case_conditions(Filters(country=code), Case.id)
        number = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(*cohort_conditions(period, filters), *narrowed)
        )
        found.append((code, int(number or 0)))
    return sorted(found, key=lambda pair: (-pair[1], pair[0]))


@dataclass(frozen=True)
class ChartFigures:
    """What the charts of a period draw (``stats.charts``)."""

    figures: Figures
    buckets: list[Bucket]
    trend: list[tuple[str, Timing]]
    outcomes: dict[str, int]
    countries: list[tuple[str, int]]
    scorecards: list[Scorecard]


def chart_figures(session: Session, period: Period, filters: Filters) -> ChartFigures:
    """The period's figures and every breakdown its charts draw."""
    return ChartFigures(
        figures=figures(session, period, filters),
        buckets=removal_buckets(session, period, filters),
        trend=removal_by_part(session, period, filters),
        outcomes=by_outcome(session, period, filters),
        countries=by_country(session, period, filters),
        scorecards=scorecards(session, period),
    )
