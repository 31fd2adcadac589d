"""The figures of a period, and the provider scorecards, each computed by SQL aggregates.

What each figure counts (the README's "Statistics" section says the same for users):

- Counts of events are counted on the day the event happened, within ``[start, end)``:
  reports received (``received_at``), cases opened (first report), duplicates folded (a
  report that was not its case's first), assessments (a case's *first* decision, confirmed or
  not illegal: by the system when every item matched a bank, otherwise by a person), notices
  sent (``sent_at``) by kind and receiving organization, list entries added and withdrawn,
  appeals filed and decided, reveals.
- Times are over the *cohort* of cases first reported in the period, measured from the first
  report: to the first decision, to the first notice and to removal (confirmed by a re-check).
  Times to notice and to removal are over the cohort's cases confirmed before the period
  ended. A case whose event had not happened by the end of the period (still up, or not yet
  assessed) stays in the cohort as "not yet": it counts in every share's denominator, never in
  its numerator, and sorts after every case where it happened. Medians and 90th percentiles
  are nearest-rank (the ceil(N·q)-th of N); when that rank falls on a "not yet" case the
  figure is ``None``: more than that share of the cohort was still waiting at the end.

Filters narrow cases: ``source`` is the source of the case's first report (for reports
received, the report's own source); ``country`` a hosting country in any of its traces;
``organization`` an organization that got any notice about it (host, CDN, registrar);
``classification`` the classification of any of its items; ``outcome`` where the case is now
(``removed``, ``confirmed``, ``not_illegal``, ``pending``). List and exposure figures are not
about one case and are not filtered.

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

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import QueryableAttribute, Session, aliased
from sqlalchemy.sql.selectable import Subquery

from takedown.auth.principal import SYSTEM
from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState
from takedown.exposure.models import ItemReveal
from takedown.intake.models import Report, ReporterSource
from takedown.lists.models import Appeal, AppealStatus, EntryStatus, UrlEntry
from takedown.notices.models import Notice, NoticeKind
from takedown.stats.models import StatsDaily
from takedown.stats.periods import Period
from takedown.stats.sql import count_if, nearest_rank, seconds_between

DAY: Final = 86400
THREE_DAYS: Final = 3 * DAY
OUTCOMES: Final = ("removed", "confirmed", "not_illegal", "pending")
_DECIDED: Final = (CaseState.CONFIRMED.value, CaseState.NOT_ILLEGAL.value)


@dataclass(frozen=True)
class Filters:
    source: ReporterSource | None = None
    country: str | None = None
    organization: uuid.UUID | None = None
    classification: str | None = None
    outcome: str | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in vars(self).values())


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


@dataclass(frozen=True)
class Scorecard:
    org_id: uuid.UUID
    organization: str
    to_removal: Timing
    renoticed: int
    escalated: int


# --- which cases a filter keeps ---------------------------------------------------------

# A column holding a case's id: Case.id, Report.case_id, a subquery's column.
CaseKey = ColumnElement[Any] | QueryableAttribute[Any]


def first_reports() -> Subquery:
    """Each case's first report (its source is the case's source)."""
    ranked = select(
        Report.case_id,
        Report.source,
        func.row_number()
        .over(partition_by=Report.case_id, order_by=(Report.received_at, Report.reference))
        .label("rn"),
    ).subquery()
    return select(ranked.c.case_id, ranked.c.source).where(ranked.c.rn == 1).subquery()


def _decision(event: Any) -> ColumnElement[bool]:
    """``event`` (``CaseEvent`` or an alias of it) is a decision: confirmed or not illegal."""
    return and_(event.kind == "state_changed", event.data["to"].as_string().in_(_DECIDED))


def first_decisions() -> Subquery:
    """Each case's first decision: when, by whom, and the verdict.

    "First" is by ``(at, id)``: a decision with no earlier one of its case (an anti-join the
    planner answers from the ``(case_id, at)`` index or a hash), not a ranking of every
    decision ever made, so a period's range on the result is applied before the join.
    """
    earlier = aliased(CaseEvent)
    sooner = exists().where(
        earlier.case_id == CaseEvent.case_id,
        _decision(earlier),
        or_(earlier.at < CaseEvent.at, and_(earlier.at == CaseEvent.at, earlier.id < CaseEvent.id)),
    )
    verdict = CaseEvent.data["to"].as_string()
    return (
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.actor, verdict.label("verdict"))
        .where(_decision(CaseEvent), ~sooner)
        .subquery()
    )


def case_conditions(filters: Filters, case_id: CaseKey) -> list[ColumnElement[bool]]:
    """Conditions on ``case_id`` (a column holding a case's id) that ``filters`` ask for."""
    from takedown.tracing.models import Trace

    found: list[ColumnElement[bool]] = []
    if filters.source is not None:
        first = first_reports()
        found.append(
            case_id.in_(select(first.c.case_id).where(first.c.source == filters.source.value))
        )
    if filters.country is not None:
        found.append(
            exists().where(
                Trace.case_id == case_id, Trace.countries.contains(filters.country.upper())
            )
        )
    if filters.organization is not None:
        found.append(
            exists().where(Notice.case_id == case_id, Notice.org_id == filters.organization)
        )
    if filters.classification is not None:
        found.append(
            exists().where(
                CaseItem.case_id == case_id, CaseItem.classification == filters.classification
            )
        )
    if filters.outcome is not None:
        found.append(case_id.in_(select(Case.id).where(_outcome(filters.outcome))))
    return found


def _outcome(outcome: str) -> ColumnElement[bool]:
    if outcome == "removed":
        return Case.removed_at.is_not(None)
    if outcome == "pending":
        return Case.state.in_((CaseState.NEW, CaseState.AWAITING_ASSESSMENT))
    return and_(Case.state == CaseState(outcome), Case.removed_at.is_(None))


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


# --- times ------------------------------------------------------------------------------


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


def _cohort(period: Period, filters: Filters) -> list[ColumnElement[bool]]:
    return [
        Case.first_reported_at >= period.start,
        Case.first_reported_at < period.end,
        *case_conditions(filters, Case.id),
    ]


def _confirmed_by(end: datetime) -> ColumnElement[bool]:
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
        .where(_decision(CaseEvent))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    grp = literal(1).label("grp")
    to_assessment = (
        select(grp, Case.first_reported_at.label("started"), first.c.at.label("happened"))
        .select_from(Case)
        .outerjoin(first, first.c.case_id == Case.id)
        .where(*_cohort(period, filters))
    )
    confirmed = [*_cohort(period, filters), _confirmed_by(period.end)]
    to_notice = select(
        grp, Case.first_reported_at.label("started"), Case.first_notice_at.label("happened")
    ).where(*confirmed)
    to_removal = select(
        grp, Case.first_reported_at.label("started"), Case.removed_at.label("happened")
    ).where(*confirmed)
    queries: tuple[Select[Any, Any, Any], ...] = (to_assessment, to_notice, to_removal)
    return [timings(session, query, period.end).get(1, NO_CASES) for query in queries]


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


# --- provider scorecards ----------------------------------------------------------------


def scorecards(
    session: Session, period: Period, org_id: uuid.UUID | None = None
) -> list[Scorecard]:
    """Per hosting provider (the organization a case's first-level notice went to): the
    period's cohort of its cases, time to removal from the first report, and how many needed
    a re-notice or an escalation (by the end of the period). ``org_id`` keeps one provider."""
    hosted = select(Notice.case_id, Notice.org_id, Notice.org_name).where(
        Notice.kind == NoticeKind.NOTICE, Notice.org_id.is_not(None)
    )
    if org_id is not None:
        hosted = hosted.where(Notice.org_id == org_id)
    host = hosted.distinct().subquery()
    cohort = (
        select(
            host.c.org_id.label("grp"),
            Case.first_reported_at.label("started"),
            Case.removed_at.label("happened"),
        )
        .join(host, host.c.case_id == Case.id)
        .where(Case.first_reported_at >= period.start, Case.first_reported_at < period.end)
    )
    times = timings(session, cohort, period.end)
    if not times:
        return []

    def needed(kind: NoticeKind) -> dict[uuid.UUID, int]:
        later = exists().where(
            Notice.case_id == Case.id, Notice.kind == kind, Notice.created_at < period.end
        )
        query = (
            select(host.c.org_id, func.count())
            .join(Case, host.c.case_id == Case.id)
            .where(
                Case.first_reported_at >= period.start,
                Case.first_reported_at < period.end,
                later,
            )
            .group_by(host.c.org_id)
        )
        return {row[0]: int(row[1]) for row in session.execute(query)}

    renoticed, escalated = needed(NoticeKind.RENOTICE), needed(NoticeKind.ESCALATION)
    names = dict(
        session.execute(
            select(host.c.org_id, func.min(host.c.org_name)).group_by(host.c.org_id)
        ).all()
    )
    return sorted(
        (
            Scorecard(
                org_id=org,
                organization=names.get(org, ""),
                to_removal=timing,
                renoticed=renoticed.get(org, 0),
                escalated=escalated.get(org, 0),
            )
            for org, timing in times.items()
        ),
        key=lambda card: card.organization,
    )
