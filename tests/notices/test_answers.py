"""Recording a provider's answer to a notice: timeline, audit, re-check, supervisor flag.

Organizations are fictional and URLs are example URLs (RFC 2606); nothing is fetched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.auth.principal import Principal
from takedown.cases.models import Case, CaseState
from takedown.config import Settings
from takedown.errors import ValidationFailed
from takedown.jobs.models import Job
from takedown.monitoring.schedule import RECHECK_JOB
from takedown.notices import answers
from takedown.notices.models import AnswerKind, Notice, NoticeAnswer
from tests.factories import ACTOR, NOW
from tests.notices.support import events_of, sent_notice

REASONS = {
    AnswerKind.ACKNOWLEDGED: "",
    AnswerKind.REMOVED: "",
    AnswerKind.CANNOT_ACT: "We only provide transit for this network.",
    AnswerKind.DISPUTE: "This address is not hosted by us.",
}


def answer(
    db: Session,
    notice: Notice,
    kind: AnswerKind,
    *,
    at: datetime = NOW,
    reason: str = "",
    via: answers.Via = "api",
    actor: Principal | str = ACTOR,
) -> NoticeAnswer:
    """``record_answer`` with what most tests leave as is: no reason, by API, at NOW."""
    return answers.record_answer(db, notice, kind, reason=reason, via=via, actor=actor, now=at)


def _rechecks(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.name == RECHECK_JOB)).all())


@pytest.mark.parametrize("kind", list(AnswerKind))
def test_each_answer_goes_on_the_timeline_and_the_audit_log(
    db: Session, settings: Settings, kind: AnswerKind
) -> None:
    notice = sent_notice(db, settings)
    at = NOW + timedelta(hours=2)
    row = answers.record_answer(
        db, notice, kind, reason=REASONS[kind], via="api", actor=ACTOR, now=at
    )
    assert (row.kind, row.via, row.actor, row.at) == (kind, "api", ACTOR.label, at)
    assert (notice.answer, notice.answered_at) == (kind, at)
    [event] = events_of(db, notice.case_id, "notice_answered")
    assert event.message == f"Example Hosting answered {notice.reference}: {kind.label.lower()}"
    assert event.data["kind"] == kind.value
    assert event.data["reason"] == REASONS[kind]
    audit = db.scalars(select(AuditRecord).where(AuditRecord.action == "notice.answer")).one()
    assert audit.object_id == str(notice.id)
    assert audit.details["kind"] == kind.value
    assert audit.details["via"] == "api"


def test_removed_brings_the_recheck_forward_and_does_not_mark_the_case_removed(
    db: Session, settings: Settings
) -> None:
    notice = sent_notice(db, settings)
    at = NOW + timedelta(minutes=30)
    answer(db, notice, AnswerKind.REMOVED, at=at, via="link", actor=answers.link_actor(notice))
    case = db.get_one(Case, notice.case_id)
    assert case.removed_at is None
    assert case.state is CaseState.CONFIRMED
    assert case.next_recheck_at == at
    assert any(j.run_at == at and j.payload["case_id"] == str(case.id) for j in _rechecks(db))


def test_cannot_act_brings_the_recheck_forward_too(db: Session, settings: Settings) -> None:
    notice = sent_notice(db, settings)
    at = NOW + timedelta(hours=3)
    answer(db, notice, AnswerKind.CANNOT_ACT, at=at, reason="Not our customer.")
    assert db.get_one(Case, notice.case_id).next_recheck_at == at
    assert any(j.run_at == at for j in _rechecks(db))


def test_acknowledged_changes_no_schedule(db: Session, settings: Settings) -> None:
    notice = sent_notice(db, settings)
    before = db.get_one(Case, notice.case_id).next_recheck_at
    answer(db, notice, AnswerKind.ACKNOWLEDGED, at=NOW + timedelta(hours=1))
    case = db.get_one(Case, notice.case_id)
    assert case.next_recheck_at == before
    assert case.escalated_at is None


def test_a_dispute_flags_the_case_for_a_supervisor(db: Session, settings: Settings) -> None:
    notice = sent_notice(db, settings)
    at = NOW + timedelta(hours=1)
    answer(db, notice, AnswerKind.DISPUTE, at=at, reason=REASONS[AnswerKind.DISPUTE])
    case = db.get_one(Case, notice.case_id)
    assert case.escalated_at == at
    [flag] = events_of(db, case.id, "escalated")
    assert flag.data["supervisor"] is True
    assert "disputes" in flag.message
    # A second dispute keeps the first flag's time.
    answer(db, notice, AnswerKind.DISPUTE, at=at + timedelta(hours=1), reason="Still not ours.")
    assert db.get_one(Case, notice.case_id).escalated_at == at


@pytest.mark.parametrize("kind", [AnswerKind.CANNOT_ACT, AnswerKind.DISPUTE])
@pytest.mark.parametrize("reason", ["", "   \n "])
def test_cannot_act_and_dispute_need_a_reason(
    db: Session, settings: Settings, kind: AnswerKind, reason: str
) -> None:
    notice = sent_notice(db, settings)
    with pytest.raises(ValidationFailed, match="reason"):
        answers.record_answer(db, notice, kind, reason=reason, via="api", actor=ACTOR, now=NOW)
    assert answers.answers_of(db, notice.id) == []
    assert notice.answer is None
    assert events_of(db, notice.case_id, "notice_answered") == []


def test_a_reason_is_at_most_5000_characters(db: Session, settings: Settings) -> None:
    notice = sent_notice(db, settings)
    with pytest.raises(ValidationFailed, match="5000"):
        answers.record_answer(
            db, notice, AnswerKind.DISPUTE, reason="x" * 5001, via="api", actor=ACTOR, now=NOW
        )
    row = answers.record_answer(
        db, notice, AnswerKind.DISPUTE, reason="x" * 5000, via="api", actor=ACTOR, now=NOW
    )
    assert len(row.reason) == 5000


def test_the_same_answer_twice_within_seconds_is_one_answer(
    db: Session, settings: Settings
) -> None:
    notice = sent_notice(db, settings)
    link = answers.link_actor(notice)
    first = answer(db, notice, AnswerKind.REMOVED, via="link", actor=link)
    again = answer(
        db, notice, AnswerKind.REMOVED, at=NOW + timedelta(seconds=2), via="link", actor=link
    )
    assert again.id == first.id
    assert len(answers.answers_of(db, notice.id)) == 1
    assert len(events_of(db, notice.case_id, "notice_answered")) == 1


def test_a_different_or_later_answer_is_a_new_answer(db: Session, settings: Settings) -> None:
    notice = sent_notice(db, settings)
    submissions: list[tuple[AnswerKind, answers.Via, datetime]] = [
        (AnswerKind.ACKNOWLEDGED, "api", NOW),
        (AnswerKind.ACKNOWLEDGED, "link", NOW + timedelta(seconds=1)),  # another channel
        (AnswerKind.ACKNOWLEDGED, "link", NOW + timedelta(minutes=5)),  # minutes later
        (AnswerKind.REMOVED, "link", NOW + timedelta(minutes=6)),  # another answer
    ]
    for kind, via, at in submissions:
        answers.record_answer(db, notice, kind, reason="", via=via, actor="link", now=at)
    kept = answers.answers_of(db, notice.id)
    assert [(a.kind, a.via, a.at) for a in kept] == submissions
    assert (notice.answer, notice.answered_at) == (AnswerKind.REMOVED, submissions[-1][2])


def test_answers_about_a_removed_and_closed_case_are_still_recorded(
    db: Session, settings: Settings
) -> None:
    notice = sent_notice(db, settings)
    case = db.get_one(Case, notice.case_id)
    case.removed_at = case.closed_at = NOW + timedelta(hours=1)
    case.state, case.next_recheck_at = CaseState.CLOSED, None
    db.flush()
    jobs_before = len(_rechecks(db))
    at = NOW + timedelta(hours=2)
    answers.record_answer(db, notice, AnswerKind.REMOVED, reason="", via="api", actor=ACTOR, now=at)
    assert [a.kind for a in answers.answers_of(db, notice.id)] == [AnswerKind.REMOVED]
    assert len(events_of(db, case.id, "notice_answered")) == 1
    assert case.next_recheck_at is None
    assert len(_rechecks(db)) == jobs_before


def test_staff_recording_an_answer_are_named_on_the_timeline(
    db: Session, settings: Settings
) -> None:
    notice = sent_notice(db, settings)
    answer(db, notice, AnswerKind.REMOVED, reason="Said so on the phone.", via="staff")
    [event] = events_of(db, notice.case_id, "notice_answered")
    assert event.message.endswith(f"(recorded by {ACTOR.label})")
    assert event.actor == ACTOR.label
