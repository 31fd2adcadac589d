"""Use cases of the cases domain: timeline, transitions, assessment, listing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import visibility
from takedown.cases.models import (
    Case,
    CaseEvent,
    CaseItem,
    CaseState,
    ItemVerdict,
    Priority,
)
from takedown.cases.states import check_transition
from takedown.errors import InvalidTransition, NotFound, ValidationFailed
from takedown.intake.models import Report
from takedown.jobs import service as jobs

# Orders cases most urgent first in SQL without storing a derived rank column.
PRIORITY_RANK = sql_case({p.value: p.rank for p in Priority}, value=Case.priority)


def add_event(
    session: Session,
    case: Case,
    kind: str,
    message: str,
    *,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    row = CaseEvent(
        case_id=case.id, at=at, kind=kind, actor=actor, message=message, data=data or {}
    )
    session.add(row)
    return row


def get_case(session: Session, case_id: uuid.UUID) -> Case:
    found = session.get(Case, case_id)
    if found is None:
        raise NotFound(f"no case {case_id}")
    return found


def items(session: Session, case_id: uuid.UUID) -> Sequence[CaseItem]:
    """The media captured for a case, unknown ones first: those are what an analyst reviews."""
    unknown_first = sql_case((CaseItem.verdict == ItemVerdict.UNKNOWN, 0), else_=1)
    return session.scalars(
        select(CaseItem)
        .where(CaseItem.case_id == case_id)
        .order_by(unknown_first, CaseItem.captured_at, CaseItem.url)
    ).all()


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a case's timeline, stored as an event or derived from a report."""

    at: datetime
    kind: str
    actor: str
    message: str
    data: dict[str, Any]


def timeline(session: Session, case: Case, reports: Sequence[Report]) -> list[TimelineEntry]:
    """The case's events merged with the reports the caller may see, oldest first.

    Reports are not copied into ``case_events``: they already say when and from whom, and
    deriving their lines here keeps bulk intake to one row per report and shows an
    organization only its own reports.
    """
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    entries = [TimelineEntry(e.at, e.kind, e.actor, e.message, e.data) for e in events]
    entries.append(TimelineEntry(case.created_at, "created", "system", "Case opened", {}))
    entries += [
        TimelineEntry(
            r.received_at,
            "report_received",
            r.source.value,
            f"Report {r.reference} received ({r.source.value.replace('_', ' ')})",
            {"report_id": str(r.id), "immediate_danger": r.immediate_danger},
        )
        for r in reports
    ]
    # "created" sorts before the report that opened the case, which carries the same time.
    order = {"created": 0, "report_received": 1}
    return sorted(entries, key=lambda e: (e.at, order.get(e.kind, 2)))


def list_cases(
    session: Session,
    caller: Principal,
    *,
    state: CaseState | None = None,
    priority: Priority | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Case], int]:
    """Cases the caller may see, most urgent first (priority, then due time), and the total."""
    query = visibility.restrict(select(Case), caller)
    if state is not None:
        query = query.where(Case.state == state)
    if priority is not None:
        query = query.where(Case.priority == priority)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(PRIORITY_RANK, Case.due_at, Case.id).limit(limit).offset(offset)
    ).all()
    return rows, total


def transition(
    session: Session,
    case: Case,
    target: CaseState,
    actor: Principal,
    *,
    now: datetime,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move a case to ``target`` if the state machine allows it; timeline and audit follow."""
    check_transition(case.state, target)
    previous = case.state
    case.state = target
    case.closed_at = now if target == CaseState.CLOSED else None
    details = {"from": previous.value, "to": target.value, **(data or {})}
    if previous is CaseState.CLOSED and case.removed_at is not None:
        # Reported again after removal: the content is back, so the case walks again
        # (notices, list, re-checks). The earlier removal stays on the timeline.
        details["earlier_removed_at"] = case.removed_at.isoformat()
        case.removed_at = None
        case.next_recheck_at = None
    add_event(
        session,
        case,
        "state_changed",
        f"{previous.label} → {target.label}",
        actor=actor.label,
        at=now,
        data=details | ({"note": note} if note else {}),
    )
    audit.record(
        session, actor, "case.transition", "case", case.id, at=now, details=details, note=note
    )
    if target is CaseState.CONFIRMED:
        # In the same transaction: a confirmed case always gets traced, a rolled-back
        # confirmation never does. The job name is spelled out because tracing imports cases.
        jobs.enqueue(
            session,
            "cases.trace",
            {"case_id": str(case.id)},
            run_at=now,
            priority=jobs.PRIORITY_TRACE,
        )
        if case.registered_domain is not None:
            # The registry of the domain's TLD is alerted once the host has been notified
            # (takedown.lists.alerts); an IP address has no registry to alert.
            jobs.enqueue(session, "lists.domain_alert", {"case_id": str(case.id)}, run_at=now)


VERDICTS = {"confirmed": CaseState.CONFIRMED, "not_illegal": CaseState.NOT_ILLEGAL}


def assess(
    session: Session,
    case_id: uuid.UUID,
    verdict: str,
    actor: Principal,
    *,
    now: datetime,
    note: str | None = None,
) -> Case:
    """Record a human verdict on a case awaiting assessment."""
    target = VERDICTS.get(verdict)
    if target is None:
        raise ValidationFailed(f"verdict must be one of {sorted(VERDICTS)}")
    case = get_case(session, case_id)
    if case.state is not CaseState.AWAITING_ASSESSMENT:
        # NEW → CONFIRMED exists for capture's automatic verdict only; people assess what
        # capture has prepared (known items already assessed, unknown ones listed).
        raise InvalidTransition(
            f"a case in state {case.state.value!r} cannot be assessed; "
            "only cases awaiting assessment can"
        )
    transition(session, case, target, actor, now=now, note=note, data={"verdict": verdict})
    return case


def close(
    session: Session, case_id: uuid.UUID, actor: Principal, *, now: datetime, note: str | None
) -> Case:
    case = get_case(session, case_id)
    transition(session, case, CaseState.CLOSED, actor, now=now, note=note)
    return case
