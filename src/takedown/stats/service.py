"""The figures of a period, each computed by SQL aggregates (times: ``timings``; filters:
``filters``; provider scorecards: ``scorecards``).

What each figure counts (the README's "Statistics" section says the same for users):

- Counts of events are counted on the day the event happened, within ``[start, end)``:
  reports received (``received_at``), cases opened (first report), duplicates folded (a
  report that was not its case's first), assessments (a case's *first* decision, confirmed or
  not illegal: by the system when every item matched a bank, otherwise by a person), notices
  sent (``sent_at``) by kind and receiving organization, list entries added and withdrawn,
  appeals filed and decided, reveals.
- Times (``timings``) are over the *cohort* of cases first reported in the period, with
  cases still waiting at the period's end counted as "not yet", never dropped.

Filters (``filters``) narrow cases; list and exposure figures are not about one case and are
not filtered.

Without filters, the counts of closed days come from ``stats_daily`` (see ``daily``) where
that day was aggregated, so they stay right after retention purges rows; times and every
filtered figure are computed from the rows still kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from takedown.auth.principal import SYSTEM
from takedown.cases.models import Case, CaseItem
from takedown.exposure.models import ItemReveal
from takedown.intake.models import Report
from takedown.lists.models import Appeal, AppealStatus, EntryStatus, UrlEntry
from takedown.notices.models import Notice, NoticeKind
from takedown.stats.filters import Filters, case_conditions, first_decisions
from takedown.stats.models import StatsDaily
from takedown.stats.periods import Period
from takedown.stats.sql import count_if
from takedown.stats.timings import Timing, cohort_timings


@dataclass(frozen=True)
class OrgNotices:
    organization: str
    org_id: uuid.UUID | None
    notices: int
    renotices: int
    escalations: int


@dataclass(frozen=True)
class Figures:
    period: Period
    counts: dict[str, int]
    to_assessment: Timing
    to_notice: Timing
    to_removal: Timing
    notices_by_org: list[OrgNotices]
    list_size: int
    appeals: dict[str, int]
    reveals_per_day: float
    items_captured: int
    items_never_shown: int
    # Which counts came, for some days, from the daily aggregates.
    from_aggregates: list[str] = field(default_factory=list)

    @property
    def share_never_shown(self) -> float | None:
        return self.items_never_shown / self.items_captured if self.items_captured else None


# --- counts -----------------------------------------------------------------------------


Counter = Callable[[Session, datetime, datetime, Filters], int]
COUNTERS: dict[str, Counter] = {}


def _counter(name: str) -> Callable[[Counter], Counter]:
    def register(fn: Counter) -> Counter:
        COUNTERS[name] = fn
        return fn

    return register


def _scalar(session: Session, query: Select[int]) -> int:
    return int(session.scalar(query) or 0)


def _reports(start: datetime, end: datetime, filters: Filters) -> list[ColumnElement[bool]]:
    where = [Report.received_at >= start, Report.received_at < end]
    if filters.source is not None:
        where.append(Report.source == filters.source)
    narrowed = Filters(**(vars(filters) | {"source": None}))
    return where + case_conditions(narrowed, Report.case_id)


@_counter("reports_received")
def reports_received(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    return _scalar(
        session, select(func.count()).select_from(Report).where(*_reports(start, end, filters))
    )


@_counter("duplicates_folded")
def duplicates_folded(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    # A duplicate is a report of the period with an earlier one (by ``(received_at,
    # reference)``) of its case: a semi-join on the period's reports, not a ranking of every
    # report ever received.
    earlier = aliased(Report)
    sooner = exists().where(
        earlier.case_id == Report.case_id,
        or_(
            earlier.received_at < Report.received_at,
            and_(earlier.received_at == Report.received_at, earlier.reference < Report.reference),
        ),
    )
    query = select(func.count()).select_from(Report).where(*_reports(start, end, filters), sooner)
    return _scalar(session, query)


@_counter("cases_opened")
def cases_opened(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    where = [Case.first_reported_at >= start, Case.first_reported_at < end]
    return _scalar(
        session,
        select(func.count()).select_from(Case).where(*where, *case_conditions(filters, Case.id)),
    )


# The four decision counts come from one query over the period's first decisions; while
# ``counts`` runs, its answer is kept for the other three (``counts`` writes nothing, so it
# cannot go stale), instead of finding the first decisions four times.
_DECISIONS: ContextVar[dict[Any, tuple[int, int, int, int]] | None] = ContextVar(
    "stats_decisions", default=None
)


def _decision_counts(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> tuple[int, int, int, int]:
    """First decisions in ``[start, end)``: by a person, by the system, confirmed, not illegal."""
    memo = _DECISIONS.get()
    key = (start, end, filters)
    if memo is not None and key in memo:
        return memo[key]
    first = first_decisions()
    row = session.execute(
        select(
            count_if(first.c.actor != SYSTEM.label),
            count_if(first.c.actor == SYSTEM.label),
            count_if(first.c.verdict == "confirmed"),
            count_if(first.c.verdict == "not_illegal"),
        )
        .select_from(first)
        .where(first.c.at >= start, first.c.at < end, *case_conditions(filters, first.c.case_id))
    ).one()
    found = (int(row[0]), int(row[1]), int(row[2]), int(row[3]))
    if memo is not None:
        memo[key] = found
    return found


@_counter("assessed_by_person")
def assessed_by_person(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    return _decision_counts(session, start, end, filters)[0]


@_counter("assessed_automatically")
def assessed_automatically(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> int:
    return _decision_counts(session, start, end, filters)[1]


@_counter("confirmed")
def confirmed(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    return _decision_counts(session, start, end, filters)[2]


@_counter("not_illegal")
def not_illegal(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    return _decision_counts(session, start, end, filters)[3]


def _notices(kind: NoticeKind) -> Counter:
    def count(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
        where = [Notice.kind == kind, Notice.sent_at >= start, Notice.sent_at < end]
        where += case_conditions(filters, Notice.case_id)
        return _scalar(session, select(func.count()).select_from(Notice).where(*where))

    return count


COUNTERS["notices_sent"] = _notices(NoticeKind.NOTICE)
COUNTERS["renotices"] = _notices(NoticeKind.RENOTICE)
COUNTERS["escalations"] = _notices(NoticeKind.ESCALATION)


@_counter("list_entries_added")
def list_entries_added(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    where = [UrlEntry.added_at >= start, UrlEntry.added_at < end]
    return _scalar(session, select(func.count()).select_from(UrlEntry).where(*where))


@_counter("list_entries_withdrawn")
def list_entries_withdrawn(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> int:
    where = [UrlEntry.withdrawn_at >= start, UrlEntry.withdrawn_at < end]
    return _scalar(session, select(func.count()).select_from(UrlEntry).where(*where))


@_counter("appeals_filed")
def appeals_filed(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    where = [Appeal.created_at >= start, Appeal.created_at < end]
    return _scalar(session, select(func.count()).select_from(Appeal).where(*where))


@_counter("reveals")
def reveals(session: Session, start: datetime, end: datetime, filters: Filters) -> int:
    where = [ItemReveal.revealed_at >= start, ItemReveal.revealed_at < end]
    return _scalar(session, select(func.count()).select_from(ItemReveal).where(*where))


# Counts of list and exposure figures ignore case filters (see the module docstring).
UNFILTERED: Final = frozenset(
    {"list_entries_added", "list_entries_withdrawn", "appeals_filed", "reveals"}
)


def _days(start: datetime, end: datetime) -> Iterator[datetime]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def _gaps(days: list[datetime], covered: set[str]) -> Iterator[tuple[datetime, datetime]]:
    """The runs of consecutive days not in ``covered``, as ``[start, end)``."""
    run: datetime | None = None
    for day in days:
        if day.date().isoformat() in covered:
            if run is not None:
                yield run, day
                run = None
        elif run is None:
            run = day
    if run is not None:
        yield run, days[-1] + timedelta(days=1)


def counts(session: Session, period: Period, filters: Filters) -> tuple[dict[str, int], list[str]]:
    """Every count of the period, and the names of those partly read from daily aggregates."""
    token = _DECISIONS.set({})
    try:
        return _counts(session, period, filters)
    finally:
        _DECISIONS.reset(token)


def _counts(session: Session, period: Period, filters: Filters) -> tuple[dict[str, int], list[str]]:
    days = list(_days(period.start, period.end))
    result: dict[str, int] = {}
    used: list[str] = []
    for name, counter in COUNTERS.items():
        covered: dict[str, int] = {}
        if days and (filters.empty or name in UNFILTERED):
            covered = dict(
                session.execute(
                    select(StatsDaily.day, StatsDaily.value).where(
                        StatsDaily.metric == name,
                        StatsDaily.day >= days[0].date().isoformat(),
                        StatsDaily.day <= days[-1].date().isoformat(),
                    )
                ).all()
            )
        if covered:
            used.append(name)
            total = sum(covered.values())
            total += sum(counter(session, a, b, filters) for a, b in _gaps(days, set(covered)))
        else:
            total = counter(session, period.start, period.end, filters)
        result[name] = total
    return result, used


# --- notices, lists, appeals, exposure -------------------------------------------------


def notices_by_org(session: Session, period: Period, filters: Filters) -> list[OrgNotices]:
    query = (
        select(
            Notice.org_name,
            Notice.org_id,
            count_if(Notice.kind == NoticeKind.NOTICE),
            count_if(Notice.kind == NoticeKind.RENOTICE),
            count_if(Notice.kind == NoticeKind.ESCALATION),
        )
        .where(
            Notice.sent_at >= period.start,
            Notice.sent_at < period.end,
            Notice.kind.in_((NoticeKind.NOTICE, NoticeKind.RENOTICE, NoticeKind.ESCALATION)),
            *case_conditions(filters, Notice.case_id),
        )
        .group_by(Notice.org_name, Notice.org_id)
        .order_by(Notice.org_name)
    )
    return [OrgNotices(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in session.execute(query)]


def list_size(session: Session, at: datetime) -> int:
    """URL list entries in force at ``at``: added before, not withdrawn by then, approved.

    A whole host waiting for its second person is not in force; neither is one suspended
    now (suspension keeps no date, so an entry suspended today counts as out all along)."""
    return _scalar(
        session,
        select(func.count())
        .select_from(UrlEntry)
        .where(
            UrlEntry.added_at < at,
            or_(UrlEntry.withdrawn_at.is_(None), UrlEntry.withdrawn_at >= at),
            UrlEntry.status.in_((EntryStatus.ACTIVE, EntryStatus.WITHDRAWN)),
        ),
    )


def appeals_decided(session: Session, period: Period) -> dict[str, int]:
    """Appeals decided in the period, by their outcome (upheld, rejected, de-listed)."""
    found = dict.fromkeys(
        (AppealStatus.UPHELD.value, AppealStatus.REJECTED.value, AppealStatus.DELISTED.value), 0
    )
    query = (
        select(Appeal.status, func.count())
        .where(Appeal.decided_at >= period.start, Appeal.decided_at < period.end)
        .group_by(Appeal.status)
    )
    for status, number in session.execute(query):
        found[AppealStatus(status).value] = int(number)
    return found


def items_shown(session: Session, period: Period) -> tuple[int, int]:
    """Items captured in the period, and how many of them no person has ever revealed."""
    shown = exists().where(ItemReveal.item_id == CaseItem.id)
    row = session.execute(
        select(func.count(), count_if(~shown)).where(
            CaseItem.captured_at >= period.start, CaseItem.captured_at < period.end
        )
    ).one()
    return int(row[0]), int(row[1])


def figures(session: Session, period: Period, filters: Filters) -> Figures:
    """Every figure of ``period`` for the cases ``filters`` keep (see the module docstring)."""
    totals, used = counts(session, period, filters)
    to_assessment, to_notice, to_removal = cohort_timings(session, period, filters)
    captured, never_shown = items_shown(session, period)
    return Figures(
        period=period,
        counts=totals,
        to_assessment=to_assessment,
        to_notice=to_notice,
        to_removal=to_removal,
        notices_by_org=notices_by_org(session, period, filters),
        list_size=list_size(session, period.end),
        appeals=appeals_decided(session, period),
        reveals_per_day=totals["reveals"] / max(period.days, 1),
        items_captured=captured,
        items_never_shown=never_shown,
        from_aggregates=used,
    )
