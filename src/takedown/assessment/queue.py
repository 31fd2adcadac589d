"""The assessment queue: cases that need an analyst, most urgent first, and who holds which.

A case needs an analyst while it is ``awaiting_assessment`` (capture put it there because some
item matched nothing known). Taking a case is recorded on its timeline, not in a column: an
``assigned`` event names the analyst, and the latest one holds the case for ``CLAIM_TTL`` (a
soft lock) so that two analysts pressing "Next case" at once get different cases, while a case
left open in a forgotten tab goes back to the queue by itself. A ``second_opinion`` event
releases the case for someone else (see ``assessment.service``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from takedown.assessment.classification import FormErrors
from takedown.assessment.models import Approval, ApprovalStatus
from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState, ItemVerdict, Priority
from takedown.intake.models import Report, ReporterSource

# Long enough to look at a case's items and decide; short enough that a case someone walked
# away from is soon back in the queue. Pressing Next again renews it.
CLAIM_TTL: Final = timedelta(minutes=30)
ASSIGNED: Final = "assigned"
SECOND_OPINION: Final = "second_opinion"
CLAIM_KINDS: Final = (ASSIGNED, SECOND_OPINION)
# Events after which a second-opinion flag no longer stands: someone assessed since.
_FLAG_KINDS: Final = (SECOND_OPINION, "assessed", "state_changed")
NEEDS_ANALYST: Final = CaseState.AWAITING_ASSESSMENT
PAGE_SIZE: Final = 200
# A few rows may be taken by others between our SELECT and our lock (see ``take_next``).
_NEXT_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page narrows the list to (GET parameters)."""

    priority: Priority | None = None
    source: ReporterSource | None = None
    overdue: bool = False
    mine: bool = False

    def as_params(self) -> dict[str, str]:
        params = {
            "priority": self.priority.value if self.priority else "",
            "source": self.source.value if self.source else "",
            "overdue": "1" if self.overdue else "",
            "mine": "1" if self.mine else "",
        }
        return {k: v for k, v in params.items() if v}


_FLAG_VALUES: Final = frozenset({"", "1", "on", "true"})


def parse_filters(params: Mapping[str, str]) -> QueueFilters:
    """The filters from the query string; ``FormErrors`` naming each bad one."""
    errors: dict[str, str] = {}
    priority = params.get("priority", "").strip()
    source = params.get("source", "").strip()
    if priority and priority not in set(Priority):
        errors["priority"] = "Choose one of the listed priorities."
    if source and source not in set(ReporterSource):
        errors["source"] = "Choose one of the listed sources."
    for flag in ("overdue", "mine"):
        if params.get(flag, "").strip().lower() not in _FLAG_VALUES:
            errors[flag] = "Tick the box or leave it empty."
    if errors:
        raise FormErrors(errors)
    return QueueFilters(
        priority=Priority(priority) if priority else None,
        source=ReporterSource(source) if source else None,
        overdue=params.get("overdue", "").strip() != "",
        mine=params.get("mine", "").strip() != "",
    )


# -- who holds a case ---------------------------------------------------------------------


def _latest(column: Any, kinds: tuple[str, ...]) -> Any:
    """The case's latest event of ``kinds``, one column of it, as a correlated subquery.

    Correlated subqueries rather than a join to a window: they stay valid under
    ``FOR UPDATE OF cases`` on PostgreSQL and read the (case_id, at) index directly.
    """
    return (
        select(column)
        .where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(kinds))
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )


def _claim_kind() -> Any:
    return _latest(CaseEvent.kind, CLAIM_KINDS)


def _claim_actor() -> Any:
    return _latest(CaseEvent.actor, CLAIM_KINDS)


def _claim_at() -> Any:
    return _latest(CaseEvent.at, CLAIM_KINDS)


def _held_by(label: str, now: datetime) -> ColumnElement[bool]:
    return and_(_claim_kind() == ASSIGNED, _claim_actor() == label, _claim_at() > now - CLAIM_TTL)


def _free_for(label: str, now: datetime) -> ColumnElement[bool]:
    """Nobody else holds the case, and it is not a second opinion ``label`` asked for."""
    kind, actor, at = _claim_kind(), _claim_actor(), _claim_at()
    return or_(
        kind.is_(None),
        and_(kind == ASSIGNED, or_(actor == label, at <= now - CLAIM_TTL)),
        and_(kind == SECOND_OPINION, actor != label),
    )


def _waiting_for_approval() -> ColumnElement[bool]:
    return exists().where(Approval.case_id == Case.id, Approval.status == ApprovalStatus.PENDING)


@dataclass(frozen=True)
class Claim:
    """The latest claim event of a case: who, what, when."""

    kind: str
    actor: str
    at: datetime

    def holder(self, now: datetime) -> str | None:
        """Who holds the case now (an ``assigned`` claim younger than ``CLAIM_TTL``)."""
        if self.kind == ASSIGNED and self.at > now - CLAIM_TTL:
            return self.actor
        return None


def claim_of(session: Session, case_id: uuid.UUID) -> Claim | None:
    row = session.execute(
        select(CaseEvent.kind, CaseEvent.actor, CaseEvent.at)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(CLAIM_KINDS))
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
    ).one_or_none()
    return Claim(row.kind, row.actor, row.at) if row else None


def _is_free(claim: Claim | None, label: str, now: datetime) -> bool:
    if claim is None:
        return True
    if claim.kind == SECOND_OPINION:
        return claim.actor != label
    return claim.actor == label or claim.at <= now - CLAIM_TTL


# -- the list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One case in the queue with what the analyst decides the order of work by."""

    case: Case
    unknown_items: int
    holder: str | None
    second_opinion_by: str | None
    waiting_for_approval: bool
    time_left: timedelta

    @property
    def overdue(self) -> bool:
        return self.time_left < timedelta(0)

    @property
    def time_left_text(self) -> str:
        return describe_time_left(self.time_left)


def describe_time_left(delta: timedelta) -> str:
    """``3 h 20 min left`` or ``overdue by 45 min``: minutes are what the deadlines are in."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{mins} min")
    text = " ".join(parts)
    return f"overdue by {text}" if delta < timedelta(0) else f"{text} left"


def _filtered(query: Select[Any], filters: QueueFilters, label: str, now: datetime) -> Any:
    query = query.where(Case.state == NEEDS_ANALYST)
    if filters.priority is not None:
        query = query.where(Case.priority == filters.priority)
    if filters.source is not None:
        query = query.where(
            exists().where(Report.case_id == Case.id, Report.source == filters.source)
        )
    if filters.overdue:
        query = query.where(Case.due_at < now)
    if filters.mine:
        query = query.where(_held_by(label, now))
    return query


def list_queue(
    session: Session,
    viewer: Principal,
    filters: QueueFilters,
    *,
    now: datetime,
    limit: int = PAGE_SIZE,
) -> tuple[list[QueueRow], int]:
    """The cases that need an analyst, by priority then due time; and how many there are."""
    unknown = (
        select(func.count())
        .where(CaseItem.case_id == Case.id, CaseItem.verdict == ItemVerdict.UNKNOWN)
        .correlate(Case)
        .scalar_subquery()
    )
    flag_kind = _latest(CaseEvent.kind, _FLAG_KINDS)
    flag_actor = _latest(CaseEvent.actor, _FLAG_KINDS)
    query = select(
        Case,
        unknown,
        _claim_kind(),
        _claim_actor(),
        _claim_at(),
        flag_kind,
        flag_actor,
        _waiting_for_approval(),
    )
    query = _filtered(query, filters, viewer.label, now)
    total = session.scalar(
        _filtered(select(func.count()).select_from(Case), filters, viewer.label, now)
    )
    rows = session.execute(
        query.order_by(cases.PRIORITY_RANK, Case.due_at, Case.id).limit(limit)
    ).all()
    found = []
    for case, count, kind, actor, at, fkind, factor, waiting in rows:
        claim = Claim(kind, actor, at) if kind else None
        found.append(
            QueueRow(
                case=case,
                unknown_items=count or 0,
                holder=claim.holder(now) if claim else None,
                second_opinion_by=factor if fkind == SECOND_OPINION else None,
                waiting_for_approval=bool(waiting),
                time_left=case.due_at - now,
            )
        )
    return found, total or 0


# -- taking the next case -----------------------------------------------------------------


def take_next(session: Session, actor: Principal, *, now: datetime) -> Case | None:
    """Assign the most urgent case nobody else holds to ``actor``; None when there is none.

    A case the actor holds already comes first (Next resumes it instead of hoarding a second
    one); cases waiting for a four-eyes decision are left out, since nobody can assess them.

    Concurrency. On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (see
    ``db.session``), so this read-then-write runs alone and cannot race. On PostgreSQL the
    candidate row is taken ``FOR UPDATE SKIP LOCKED``: a second analyst's query passes over
    the case the first is assigning instead of waiting for it. The claim is then read again
    in a new statement, which under READ COMMITTED sees an assignment committed after our
    first statement began (the row lock alone does not: the claim lives in another table);
    a case claimed meanwhile is skipped and the next one tried.
    """
    label = actor.label
    mine_first = sql_case((_held_by(label, now), 0), else_=1)
    skipped: list[uuid.UUID] = []
    for _ in range(_NEXT_ATTEMPTS):
        query = (
            select(Case)
            .where(
                Case.state == NEEDS_ANALYST,
                _free_for(label, now),
                ~_waiting_for_approval(),
            )
            .order_by(mine_first, cases.PRIORITY_RANK, Case.due_at, Case.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=Case)
            .execution_options(populate_existing=True)
        )
        if skipped:
            query = query.where(Case.id.not_in(skipped))
        case = session.scalars(query).one_or_none()
        if case is None:
            return None
        claim = claim_of(session, case.id)
        if not _is_free(claim, label, now):
            skipped.append(case.id)
            continue
        if claim is None or claim.holder(now) != label:
            assign(session, case, actor, now=now)
        return case
    return None


def assign(session: Session, case: Case, actor: Principal, *, now: datetime) -> None:
    """Record that ``actor`` works on ``case`` until ``now + CLAIM_TTL``."""
    until = now + CLAIM_TTL
    cases.add_event(
        session,
        case,
        ASSIGNED,
        f"Assigned to {actor.label}",
        actor=actor.label,
        at=now,
        data={"user_id": str(actor.user_id) if actor.user_id else None, "until": until.isoformat()},
    )
    audit.record(
        session, actor, "case.assign", "case", case.id, at=now, details={"until": until.isoformat()}
    )
