"""The figures of the overview page: where cases are, what is late, how fast content goes.

Time to removal is measured two ways, as hotlines report it: from the first report (INHOPE)
and from the first notice to the host (IWF). Only cases whose removal was confirmed (a re-check
found the content gone, ``removed_at``) in the last seven days count.

For those who may read statistics, the page also draws two small charts of recent cohorts
(``stats.breakdowns`` and ``stats.charts``, as the statistics page): time to removal per week
over the last ``TREND_WEEKS`` weeks and the share removed within 24 hours / 3 days per month
over the last ``SHARE_MONTHS`` months. The periods are short because this is the landing page:
each week or month is one aggregate query, and each chart is drawn on every visit.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseState
from takedown.cases.states import OPEN_FOR_ASSESSMENT
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from takedown.stats import breakdowns
from takedown.stats import charts as drawing
from takedown.stats.charts import Chart
from takedown.stats.filters import Filters
from takedown.stats.periods import Period

WEEK = timedelta(days=7)
DEAD_JOBS_SHOWN = 20
# Up to 92 days, ``breakdowns.parts`` cuts a period into ISO weeks; over that, into months.
TREND_WEEKS = 12
SHARE_MONTHS = 6


@dataclass(frozen=True)
class Median:
    """A median duration and how many cases it is over (None when there were none)."""

    value: timedelta | None
    cases: int


@dataclass(frozen=True)
class Overview:
    by_state: dict[CaseState, int]
    # Open for assessment with the deadline passed.
    past_due: int
    # Waiting for an analyst: new and awaiting assessment.
    assessment_queue: int
    # Background jobs waiting to run (queued, or failed and waiting to retry).
    jobs_waiting: int
    jobs_dead: int
    # The most recently dead jobs, for supervisors to look at and retry.
    dead_jobs: Sequence[Job]
    removed_this_week: int
    from_report: Median
    from_notice: Median
    # The trend and shares charts with the span each covers ("last 12 weeks"), for those who
    # may read statistics; empty for the others.
    charts: Sequence[tuple[str, Chart]]


def median(durations: Sequence[timedelta]) -> Median:
    """The median of ``durations`` (the mean of the middle two when their number is even)."""
    if not durations:
        return Median(None, 0)
    seconds = statistics.median(d.total_seconds() for d in durations)
    return Median(timedelta(seconds=seconds), len(durations))


def overview(
    session: Session, now: datetime, *, with_jobs: bool = False, with_charts: bool = False
) -> Overview:
    """The page's figures; ``with_jobs`` adds the dead jobs (for those who may read jobs),
    ``with_charts`` the charts of recent weeks and months (for those who may read statistics).
    """
    counts = dict.fromkeys(CaseState, 0)
    for state, count in session.execute(select(Case.state, func.count()).group_by(Case.state)):
        counts[CaseState(state)] = count
    past_due = (
        session.scalar(
            select(func.count()).where(Case.state.in_(OPEN_FOR_ASSESSMENT), Case.due_at < now)
        )
        or 0
    )
    removed = session.execute(
        select(Case.first_reported_at, Case.first_notice_at, Case.removed_at).where(
            Case.removed_at > now - WEEK, Case.removed_at <= now
        )
    ).all()
    # The rows are few (a week of removals), so the medians are computed here rather than in
    # SQL, where SQLite has no median and PostgreSQL's percentile_cont reads differently.
    from_report = [r.removed_at - r.first_reported_at for r in removed]
    from_notice = [r.removed_at - r.first_notice_at for r in removed if r.first_notice_at]
    job_counts = jobs.queue_counts(session)
    return Overview(
        by_state=counts,
        past_due=past_due,
        assessment_queue=sum(counts[s] for s in OPEN_FOR_ASSESSMENT),
        jobs_waiting=job_counts[JobStatus.QUEUED.value] + job_counts[JobStatus.FAILED.value],
        jobs_dead=job_counts[JobStatus.DEAD.value],
        dead_jobs=jobs.dead_jobs(session, limit=DEAD_JOBS_SHOWN) if with_jobs else [],
        removed_this_week=len(removed),
        from_report=median(from_report),
        from_notice=median(from_notice),
        charts=removal_charts(session, now) if with_charts else [],
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def recent_weeks(now: datetime) -> Period:
    """This ISO week so far and the ``TREND_WEEKS - 1`` weeks before it, to the end of today."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7 * (TREND_WEEKS - 1))
    end = _midnight(today + timedelta(days=1))
    return Period("custom", f"last {TREND_WEEKS} weeks", _midnight(monday), end)


def recent_months(now: datetime) -> Period:
    """This month so far and the ``SHARE_MONTHS - 1`` months before it, to the end of today."""
    today = now.astimezone(UTC).date()
    months = today.year * 12 + today.month - 1 - (SHARE_MONTHS - 1)
    first = date(months // 12, months % 12 + 1, 1)
    end = _midnight(today + timedelta(days=1))
    return Period("custom", f"last {SHARE_MONTHS} months", _midnight(first), end)


def removal_charts(session: Session, now: datetime) -> list[tuple[str, Chart]]:
    """Time to removal per recent week, and the share removed within 24 h / 3 days per recent
    month. As on the statistics page, each cohort is the cases first reported in its week or
    month, and a case still up today counts as not removed (the latest look slower)."""
    weeks, months = recent_weeks(now), recent_months(now)
    trend = breakdowns.removal_by_part(session, weeks, Filters())
    shares = breakdowns.removal_by_part(session, months, Filters())
    return [
        (weeks.label, drawing.removal_trend(trend)),
        (months.label, drawing.removal_shares(shares)),
    ]


def human(value: timedelta | None) -> str:
    """A duration for the page: "2 d 3 h", "3 h 20 min", "45 min", "30 s"; "-" for none."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
