"""Times from the first report to an event, over a cohort of cases, by SQL aggregates.

Times are over the *cohort* of cases first reported in the period, measured from the first
report: to the first decision, to the first notice and to removal (confirmed by a re-check).
Times to notice and to removal are over the cohort's cases confirmed before the period
ended. A case whose event had not happened by the end of the period (still up, or not yet
assessed) stays in the cohort as "not yet": it counts in every share's denominator, never in
its numerator, and sorts after every case where it happened. Medians and 90th percentiles
are nearest-rank (the ceil(N·q)-th of N); when that rank falls on a "not yet" case the
figure is ``None``: more than that share of the cohort was still waiting at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, case, exists, func, literal, select
from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.stats.filters import Filters, case_conditions, decision
from takedown.stats.periods import Period
from takedown.stats.sql import count_if, nearest_rank, seconds_between

DAY: Final = 86400
THREE_DAYS: Final = 3 * DAY


@dataclass(frozen=True)
class Timing:
    """Seconds from the first report to an event, over ``cases`` cases (see the module)."""

    cases: int
    happened: int
    median: int | None
    p90: int | None
    within_24h: int
    within_3d: int

    @property
    def share_24h(self) -> float | None:
        return self.within_24h / self.cases if self.cases else None

    @property
    def share_3d(self) -> float | None:
        return self.within_3d / self.cases if self.cases else None


def timings(session: Session, cohort: Select[Any, Any, Any], end: datetime) -> dict[Any, Timing]:
    """Timings per group of ``cohort``, whose rows are ``(grp, started, happened)``.

    ``happened`` at or after ``end`` counts as not yet (see the module docstring): it is
    nulled, sorts last and counts in the denominator only.
    """
    rows = cohort.subquery()
    seconds = case(
        (rows.c.happened < end, seconds_between(rows.c.started, rows.c.happened)), else_=None
    )
    timed = select(rows.c.grp, seconds.label("secs")).subquery()
    ranked = select(
        timed.c.grp,
        timed.c.secs,
        func.row_number()
        .over(
            partition_by=timed.c.grp,
            order_by=(case((timed.c.secs.is_(None), 1), else_=0), timed.c.secs),
        )
        .label("rn"),
        func.count().over(partition_by=timed.c.grp).label("n"),
    ).subquery()
    query = select(
        ranked.c.grp,
        func.count(),
        func.count(ranked.c.secs),
        func.min(case((ranked.c.rn == nearest_rank(ranked.c.n, 1, 2), ranked.c.secs))),
        func.min(case((ranked.c.rn == nearest_rank(ranked.c.n, 9, 10), ranked.c.secs))),
        count_if(ranked.c.secs <= DAY),
        count_if(ranked.c.secs <= THREE_DAYS),
    ).group_by(ranked.c.grp)
    return {
        row[0]: Timing(
            cases=int(row[1]),
            happened=int(row[2]),
            median=None if row[3] is None else int(row[3]),
            p90=None if row[4] is None else int(row[4]),
            within_24h=int(row[5]),
            within_3d=int(row[6]),
        )
        for row in session.execute(query)
    }


NO_CASES: Final = Timing(0, 0, None, None, 0, 0)


def cohort_conditions(period: Period, filters: Filters) -> list[ColumnElement[bool]]:
    return [
        Case.first_reported_at >= period.start,
        Case.first_reported_at < period.end,
        *case_conditions(filters, Case.id),
    ]


def confirmed_by(end: datetime) -> ColumnElement[bool]:
    verdict = CaseEvent.data["to"].as_string()
    return exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.kind == "state_changed",
        verdict == CaseState.CONFIRMED.value,
        CaseEvent.at < end,
    )


def cohort_timings(session: Session, period: Period, filters: Filters) -> list[Timing]:
    """Times to the first decision, the first notice and removal of the period's cohort."""
    # Only the time of each case's first decision matters here, not which one it was: the
    # earliest decision, one grouped scan of the decisions.
    first = (
        select(CaseEvent.case_id, func.min(CaseEvent.at).label("at"))
        .where(decision(CaseEvent))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    grp = literal(1).label("grp")
    to_assessment = (
        select(grp, Case.first_reported_at.label("started"), first.c.at.label("happened"))
        .select_from(Case)
        .outerjoin(first, first.c.case_id == Case.id)
        .where(*cohort_conditions(period, filters))
    )
    confirmed = [*cohort_conditions(period, filters), confirmed_by(period.end)]
    to_notice = select(
        grp, Case.first_reported_at.label("started"), Case.first_notice_at.label("happened")
    ).where(*confirmed)
    to_removal = select(
        grp, Case.first_reported_at.label("started"), Case.removed_at.label("happened")
    ).where(*confirmed)
    queries: tuple[Select[Any, Any, Any], ...] = (to_assessment, to_notice, to_removal)
    return [timings(session, query, period.end).get(1, NO_CASES) for query in queries]
