"""Four eyes, the second person's side: what waits for a decision, approving and rejecting.

Two kinds of things wait for a second person:

- ``Approval`` rows: assessments held back because they reverse a decision or call a
  police / trusted-flagger case not illegal (filed by ``assessment.service``). Approving one
  carries the assessment out in the same transaction; rejecting it leaves the case where it
  was, back in the queue.
- Whole-host entries of the URL list: ``lists.entries`` keeps them ``pending`` until someone
  other than the proposer approves them, and that status is what the list publisher reads.
  They are decided here through ``lists.entries`` too, rather than mirrored into ``Approval``
  rows, so the lists API and the console can never disagree about an entry.

Nobody decides their own request: the answer is a 403 that says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.assessment import service as assessment
from takedown.assessment.classification import NOTE_MAX, AssessmentInput, FormErrors
from takedown.assessment.models import Approval, ApprovalStatus
from takedown.assessment.service import Outcome
from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.config import Settings
from takedown.errors import Conflict, Forbidden, NotFound
from takedown.lists import entries
from takedown.lists.models import EntryStatus, UrlEntry
from takedown.matching import state as bank_state

ACTION_LABELS: Final = {
    assessment.REVERSE_DECISION: "Reverses an earlier decision",
    assessment.NOT_ILLEGAL_TRUSTED: "Not illegal, although police or a trusted flagger reported it",
    assessment.LIST_HOST: "Lists a whole host",
}
RECENT: Final = 20


@dataclass(frozen=True)
class ApprovalRow:
    """An approval as the four-eyes page shows it: what was asked, and why it needs two."""

    approval: Approval
    form: AssessmentInput | None
    needs: list[str]

    @classmethod
    def of(cls, approval: Approval) -> ApprovalRow:
        needs = approval.payload.get("needs") or [approval.action]
        return cls(
            approval=approval,
            form=form_of(approval) if "assessment" in approval.payload else None,
            needs=[ACTION_LABELS.get(n, n) for n in needs],
        )


def pending(session: Session) -> list[ApprovalRow]:
    """Requests waiting for a second person, oldest first (they have waited longest)."""
    rows = session.scalars(
        select(Approval)
        .where(Approval.status == ApprovalStatus.PENDING)
        .order_by(Approval.requested_at, Approval.id)
    )
    return [ApprovalRow.of(a) for a in rows]


def recent(session: Session, limit: int = RECENT) -> list[ApprovalRow]:
    """The latest decided requests, newest first."""
    rows = session.scalars(
        select(Approval)
        .where(Approval.status != ApprovalStatus.PENDING)
        .order_by(Approval.decided_at.desc(), Approval.id)
        .limit(limit)
    )
    return [ApprovalRow.of(a) for a in rows]


def listed(
    session: Session, status: ApprovalStatus, *, limit: int, offset: int
) -> tuple[list[ApprovalRow], int]:
    """One page of the requests in ``status`` and how many there are: pending ones oldest
    first, as ``pending`` lists them; decided ones newest first, as ``recent`` does."""
    query = select(Approval).where(Approval.status == status)
    order = (
        (Approval.requested_at, Approval.id)
        if status is ApprovalStatus.PENDING
        else (Approval.decided_at.desc(), Approval.id)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return [ApprovalRow.of(a) for a in rows], total


def pending_hosts(session: Session) -> Sequence[UrlEntry]:
    return entries.search(session, status=EntryStatus.PENDING, limit=500)


def form_of(approval: Approval) -> AssessmentInput:
    """The first person's assessment, as filed."""
    return AssessmentInput.from_payload(approval.payload["assessment"])


def _lock(session: Session, approval_id: uuid.UUID) -> Approval:
    found = session.scalars(
        select(Approval)
        .where(Approval.id == approval_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        raise NotFound(f"no approval {approval_id}")
    if found.status is not ApprovalStatus.PENDING:
        raise Conflict(f"This request was {found.status.value} already by {found.decided_by}.")
    return found


def _not_own(requested_by: str, actor: Principal) -> None:
    if requested_by == actor.label:
        raise Forbidden(
            "You asked for this decision yourself: a second person must approve or reject it."
        )


def _note(note: str, *, required: bool) -> str:
    note = note.strip()
    if required and not note:
        raise FormErrors({"note": "Say why you reject it: the first person will read it."})
    if len(note) > NOTE_MAX:
        raise FormErrors({"note": f"At most {NOTE_MAX} characters."})
    return note


def approve(
    session: Session,
    approval_id: uuid.UUID,
    actor: Principal,
    *,
    note: str,
    settings: Settings,
    now: datetime,
) -> Outcome:
    """The second person agrees: the held assessment is carried out now, as one change."""
    filed = session.get(Approval, approval_id)
    if filed is not None and filed.payload.get("assessment", {}).get("bank"):
        # The bank change log's lock comes before every other lock (see matching.state).
        bank_state.begin_change(session)
    approval = _lock(session, approval_id)
    _not_own(approval.requested_by, actor)
    note = _note(note, required=False)
    outcome = assessment.carry_out(session, approval, actor, settings=settings, now=now)
    _decide(session, approval, ApprovalStatus.APPROVED, actor, note, now)
    return outcome


def reject(
    session: Session, approval_id: uuid.UUID, actor: Principal, *, note: str, now: datetime
) -> Approval:
    """The second person disagrees: nothing is carried out, the case stays in the queue."""
    approval = _lock(session, approval_id)
    _not_own(approval.requested_by, actor)
    _decide(session, approval, ApprovalStatus.REJECTED, actor, _note(note, required=True), now)
    return approval


def _decide(
    session: Session,
    approval: Approval,
    status: ApprovalStatus,
    actor: Principal,
    note: str,
    now: datetime,
) -> None:
    approval.status = status
    approval.decided_by = actor.label
    approval.decided_at = now
    approval.decision_note = note or None
    details = {
        "action": approval.action,
        "requested_by": approval.requested_by,
        "case_id": str(approval.case_id) if approval.case_id else None,
    }
    audit.record(
        session,
        actor,
        f"approval.{'approve' if status is ApprovalStatus.APPROVED else 'reject'}",
        "approval",
        approval.id,
        at=now,
        details=details,
        note=note or None,
    )
    if approval.case_id is not None:
        case = cases.get_case(session, approval.case_id)
        verb = "approved" if status is ApprovalStatus.APPROVED else "rejected"
        cases.add_event(
            session,
            case,
            f"approval_{verb}",
            f"{actor.label} {verb} the decision of {approval.requested_by}"
            + (f": {note}" if note else ""),
            actor=actor.label,
            at=now,
            data={"approval_id": str(approval.id), "note": note},
        )


# -- whole hosts on the URL list ----------------------------------------------------------


def _pending_host(session: Session, entry_id: uuid.UUID) -> UrlEntry:
    entry = entries.get_entry(session, entry_id)
    if entry.status is not EntryStatus.PENDING:
        raise Conflict(f"The entry is {entry.status.value}, not waiting for a decision.")
    return entry


def approve_host(
    session: Session, entry_id: uuid.UUID, actor: Principal, *, now: datetime
) -> UrlEntry:
    entry = _pending_host(session, entry_id)
    _not_own(entry.added_by, actor)
    entries.approve(session, entry, actor=actor, now=now)
    if entry.case_id is not None:
        cases.add_event(
            session,
            cases.get_case(session, entry.case_id),
            "listed",
            f"{actor.label} approved listing the whole host {entry.expression}",
            actor=actor.label,
            at=now,
            data={"entry_id": str(entry.id)},
        )
    return entry


def reject_host(
    session: Session, entry_id: uuid.UUID, actor: Principal, *, note: str, now: datetime
) -> UrlEntry:
    """A rejected host entry is withdrawn: it stays as history, and never goes out."""
    entry = _pending_host(session, entry_id)
    _not_own(entry.added_by, actor)
    reason = _note(note, required=True)
    entries.withdraw(session, entry, actor=actor, now=now, reason=f"four eyes rejected: {reason}")
    if entry.case_id is not None:
        cases.add_event(
            session,
            cases.get_case(session, entry.case_id),
            "delisted",
            f"{actor.label} rejected listing the whole host {entry.expression}: {reason}",
            actor=actor.label,
            at=now,
            data={"entry_id": str(entry.id)},
        )
    return entry
