"""Answers to notices: what an organization says it did, by the answer link, the API or staff.

An answer is a claim, not a fact. "Removed" brings the case's re-check forward to now; only
the re-check marks the case removed. "Cannot act" brings the re-check forward too, so that
the follow-up after a live re-check escalates along the trace at once instead of waiting for
re-notices (``monitoring.followup``). A dispute stops the thread's follow-up and flags the case
for a supervisor. Every answer is kept (``NoticeAnswer``), goes on the case's timeline and
into the audit log; the notice carries the latest one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.config import Settings
from takedown.errors import NotFound, ValidationFailed
from takedown.monitoring.schedule import schedule_recheck
from takedown.notices import service as notices
from takedown.notices.documents import NoticeContent
from takedown.notices.models import AnswerKind, Notice, NoticeAnswer

Via = Literal["link", "api", "staff"]
VIAS: Final = frozenset(get_args(Via))
MAX_REASON: Final = 5000
NEEDS_REASON: Final = frozenset({AnswerKind.CANNOT_ACT, AnswerKind.DISPUTE})
# A double click or a re-sent form arrives within a second or two; a provider who really
# answers the same thing again does so minutes later, and that is kept as a second answer.
DOUBLE_SUBMISSION: Final = timedelta(seconds=10)


def clean_reason(kind: AnswerKind, reason: str) -> str:
    """The reason as stored, or ValidationFailed: required for "cannot act" and "dispute"."""
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise ValidationFailed(f"reason: at most {MAX_REASON} characters", field="reason")
    if kind in NEEDS_REASON and not text:
        raise ValidationFailed(
            f"reason: required when the answer is {kind.label.lower()!r}", field="reason"
        )
    return text


def link_actor(notice: Notice) -> str:
    """Who answered through a notice's link: whoever holds it, on the organization's behalf."""
    return f"{notice.org_name} (answer link)"


def _principal(actor: Principal | str, via: Via) -> Principal:
    if isinstance(actor, Principal):
        return actor
    return Principal(kind=via, id=None, label=actor[:200])


def answers_of(session: Session, notice_id: uuid.UUID) -> Sequence[NoticeAnswer]:
    """A notice's answers, oldest first."""
    return session.scalars(
        select(NoticeAnswer)
        .where(NoticeAnswer.notice_id == notice_id)
        .order_by(NoticeAnswer.at, NoticeAnswer.id)
    ).all()


def _latest(session: Session, notice_id: uuid.UUID) -> NoticeAnswer | None:
    return session.scalar(
        select(NoticeAnswer)
        .where(NoticeAnswer.notice_id == notice_id)
        .order_by(NoticeAnswer.at.desc(), NoticeAnswer.id.desc())
        .limit(1)
    )


def _lock(session: Session, notice: Notice) -> None:
    """Serialize answers to one notice, so two copies of a double submission cannot both see
    "no answer yet". PostgreSQL locks the row; SQLite transactions begin IMMEDIATE, one
    writer at a time, so there the lock is already held."""
    session.execute(select(Notice.id).where(Notice.id == notice.id).with_for_update()).scalar_one()


def record_answer(
    session: Session,
    notice: Notice,
    kind: AnswerKind,
    *,
    reason: str,
    via: Via,
    actor: Principal | str,
    now: datetime,
) -> NoticeAnswer:
    """Keep an organization's answer to ``notice`` and act on it; returns the answer.

    The same answer again (kind, reason and channel) within ``DOUBLE_SUBMISSION`` is the same
    submission: the earlier answer is returned and nothing is added. Answers about a case
    that is already removed or closed are still kept: they are part of the record.
    """
    if via not in VIAS:
        raise ValidationFailed(f"via must be one of {sorted(VIAS)}")
    text = clean_reason(kind, reason)
    _lock(session, notice)
    latest = _latest(session, notice.id)
    if (
        latest is not None
        and (latest.kind, latest.reason, latest.via) == (kind, text, via)
        and timedelta(0) <= now - latest.at <= DOUBLE_SUBMISSION
    ):
        return latest
    who = _principal(actor, via)
    row = NoticeAnswer(
        notice_id=notice.id,
        case_id=notice.case_id,
        kind=kind,
        reason=text,
        via=via,
        actor=who.label[:200],
        at=now,
    )
    session.add(row)
    notice.answer = kind
    notice.answered_at = now
    session.flush()
    case = cases.get_case(session, notice.case_id)
    _on_timeline(session, case, notice, row, who)
    audit.record(
        session,
        who,
        "notice.answer",
        "notice",
        notice.id,
        at=now,
        details={
            "case_id": str(case.id),
            "reference": notice.reference,
            "kind": kind.value,
            "via": via,
            "answer_id": str(row.id),
        },
        note=text or None,
    )
    _act_on(session, case, notice, row, now)
    return row


def _on_timeline(
    session: Session, case: Case, notice: Notice, answer: NoticeAnswer, who: Principal
) -> None:
    message = f"{notice.org_name} answered {notice.reference}: {answer.kind.label.lower()}"
    if answer.via == "staff":
        message += f" (recorded by {who.label})"
    cases.add_event(
        session,
        case,
        "notice_answered",
        message,
        actor=who.label,
        at=answer.at,
        data={
            "notice_id": str(notice.id),
            "reference": notice.reference,
            "answer_id": str(answer.id),
            "kind": answer.kind.value,
            "via": answer.via,
            "reason": answer.reason,
        },
    )


def _act_on(
    session: Session, case: Case, notice: Notice, answer: NoticeAnswer, now: datetime
) -> None:
    if answer.kind in (AnswerKind.REMOVED, AnswerKind.CANNOT_ACT):
        # A closed case has no re-check chain to move (schedule_recheck itself skips cases
        # already seen removed).
        if case.closed_at is None:
            schedule_recheck(session, case.id, now, replace=True)
    elif answer.kind is AnswerKind.DISPUTE:
        case.escalated_at = case.escalated_at or now
        cases.add_event(
            session,
            case,
            "escalated",
            f"{notice.org_name} disputes {notice.reference}: a supervisor decides",
            actor="system",
            at=now,
            data={
                "supervisor": True,
                "notice_id": str(notice.id),
                "answer_id": str(answer.id),
                "reason": answer.reason,
            },
        )


@dataclass(frozen=True)
class NoticeView:
    """A notice as the organization it went to sees it: what it said and what was answered."""

    notice: Notice
    content: NoticeContent
    answers: Sequence[NoticeAnswer]


def notice_view(session: Session, notice: Notice, settings: Settings) -> NoticeView:
    case = cases.get_case(session, notice.case_id)
    return NoticeView(
        notice=notice,
        content=notices.content_of(session, notice, case, settings),
        answers=answers_of(session, notice.id),
    )


def org_notice(session: Session, reference: str, caller: Principal) -> Notice:
    """The notice ``reference`` if it went to the caller's organization, else NotFound.

    Another organization's notice, and a notice that never left (queued, held by the police,
    cancelled before sending), get the same answer as an unknown reference, so references
    cannot be probed and a police hold is not revealed. Staff belong to no organization:
    they record answers with ``via="staff"``, which the timeline shows as such.
    """
    try:
        notice = notices.by_reference(session, reference)
    except NotFound:
        notice = None
    if (
        notice is None
        or caller.org_id is None
        or notice.org_id != caller.org_id
        or (notice.attempts == 0 and notice.sent_at is None)
    ):
        raise NotFound(f"no notice {reference.strip()[:40]!r}")
    return notice


def case_answers(session: Session, case_id: uuid.UUID) -> dict[uuid.UUID, list[NoticeAnswer]]:
    """Every answer to a case's notices, by notice, oldest first."""
    rows = session.scalars(
        select(NoticeAnswer)
        .where(NoticeAnswer.case_id == case_id)
        .order_by(NoticeAnswer.at, NoticeAnswer.id)
    ).all()
    found: dict[uuid.UUID, list[NoticeAnswer]] = {}
    for row in rows:
        found.setdefault(row.notice_id, []).append(row)
    return found
