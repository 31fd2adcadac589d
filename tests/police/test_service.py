"""Police deconfliction and holds in the service layer: clear, hold, release, the queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.cases.models import Case, CaseState
from takedown.config import Settings
from takedown.errors import Conflict, ValidationFailed
from takedown.notices.models import NoticeStatus
from takedown.notices.service import SEND_JOB
from takedown.notices.steps import POLICE_TIMEOUT_JOB, advance
from takedown.police import service
from takedown.police.models import Hold
from takedown.routing.models import StepStatus
from tests.factories import ACTOR, NOW

from .support import WAIT, event_kinds, jobs_named, notices_of, police_case

LATER = NOW + timedelta(minutes=10)


def hold(
    db: Session,
    settings: Settings,
    case: Case,
    *,
    hours: int = 2,
    until: datetime | None = None,
    reason: str = "Investigation 2026-042 under way",
    preserve_evidence: bool = False,
) -> Hold:
    return service.place_hold(
        db,
        case,
        ACTOR,
        until=until or NOW + timedelta(hours=hours),
        reason=reason,
        preserve_evidence=preserve_evidence,
        settings=settings,
        now=NOW,
    )


def audit_actions(db: Session) -> list[str]:
    return list(db.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_a_police_first_route_waits_for_police(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)

    assert routed.police.status is StepStatus.IN_PROGRESS
    assert routed.notice.status is StepStatus.WAITING
    assert routed.notice.after_seq == routed.police.seq
    assert notices_of(db, routed.case.id) == []
    [timeout] = jobs_named(db, POLICE_TIMEOUT_JOB)
    assert timeout.run_at == NOW + timedelta(seconds=WAIT)
    assert service.awaiting_police(db) == [routed.case]
    [wait] = service.police_waits(db, NOW)
    assert (wait.waiting_since, wait.due_at, wait.hold) == (
        NOW,
        NOW + timedelta(seconds=WAIT),
        None,
    )


def test_clearing_starts_the_notice(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)

    started = service.clear(db, routed.case, ACTOR, settings=settings, now=LATER, note="no case")

    assert started == [routed.notice]
    assert routed.police.status is StepStatus.DONE
    assert routed.notice.status is StepStatus.IN_PROGRESS
    [notice] = notices_of(db, routed.case.id)
    assert (notice.status, notice.recipient) == (NoticeStatus.QUEUED, "abuse@hosting-nl.example")
    assert notice.step_id == routed.notice.id
    [send] = jobs_named(db, SEND_JOB)
    assert send.payload == {"notice_id": str(notice.id)}
    assert "police_cleared" in event_kinds(db, routed.case.id)
    assert "police.clear" in audit_actions(db)
    assert service.awaiting_police(db) == []


def test_only_a_case_waiting_for_police_can_be_cleared(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)
    service.clear(db, routed.case, ACTOR, settings=settings, now=LATER)
    with pytest.raises(Conflict, match="not waiting for police"):
        service.clear(db, routed.case, ACTOR, settings=settings, now=LATER)

    unstarted = police_case(db, settings, url="http://host.example/b.jpg", start=False)
    with pytest.raises(Conflict, match="not waiting for police"):
        service.clear(db, unstarted.case, ACTOR, settings=settings, now=LATER)


def test_a_hold_pauses_the_notice_until_released(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)

    placed = hold(db, settings, routed.case, preserve_evidence=True)

    assert (placed.created_by, placed.preserve_evidence) == (ACTOR.label, True)
    assert routed.police.status is StepStatus.IN_PROGRESS
    [end] = jobs_named(db, service.HOLD_END_JOB)
    assert (end.run_at, end.payload) == (placed.until, {"hold_id": str(placed.id)})
    assert advance(db, routed.case, settings=settings, now=LATER) == []
    assert routed.notice.status is StepStatus.WAITING
    [wait] = service.police_waits(db, LATER)
    assert wait.hold is placed
    with pytest.raises(Conflict, match="on hold"):
        service.clear(db, routed.case, ACTOR, settings=settings, now=LATER)

    service.release_hold(db, placed, ACTOR, settings=settings, now=LATER, note="done")

    assert (placed.released_at, placed.released_by, placed.release_note) == (
        LATER,
        ACTOR.label,
        "done",
    )
    assert routed.police.status is StepStatus.DONE
    assert routed.notice.status is StepStatus.IN_PROGRESS
    [notice] = notices_of(db, routed.case.id)
    assert notice.status is NoticeStatus.QUEUED
    assert len(jobs_named(db, SEND_JOB)) == 1
    kinds = event_kinds(db, routed.case.id)
    assert kinds.index("police_hold") < kinds.index("police_hold_released")
    assert {"police.hold", "police.release"} <= set(audit_actions(db))
    with pytest.raises(Conflict, match="released already"):
        service.release_hold(db, placed, ACTOR, settings=settings, now=LATER)


def test_the_notice_waits_until_the_last_hold_ends(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)
    first = hold(db, settings, routed.case, hours=2)
    second = hold(db, settings, routed.case, hours=5)

    service.release_hold(db, first, ACTOR, settings=settings, now=LATER)
    assert routed.police.status is StepStatus.IN_PROGRESS
    assert notices_of(db, routed.case.id) == []

    service.release_hold(db, second, ACTOR, settings=settings, now=LATER)
    assert routed.police.status is StepStatus.DONE
    assert len(notices_of(db, routed.case.id)) == 1
    assert {h.id for h in service.case_holds(db, routed.case.id)} == {first.id, second.id}


def test_releasing_requeues_the_notices_a_hold_paused(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)
    service.clear(db, routed.case, ACTOR, settings=settings, now=NOW)
    placed = hold(db, settings, routed.case)
    [notice] = notices_of(db, routed.case.id)
    # What the send job does when it finds the hold.
    notice.status = NoticeStatus.HELD
    db.flush()

    service.release_hold(db, placed, ACTOR, settings=settings, now=LATER)

    assert notice.status is NoticeStatus.QUEUED
    sends = jobs_named(db, SEND_JOB)
    assert [j.payload["notice_id"] for j in sends] == [str(notice.id)] * 2
    assert sends[-1].run_at == LATER


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"until": NOW - timedelta(minutes=1)}, "in the future"),
        ({"until": NOW}, "in the future"),
        ({"until": NOW + timedelta(days=366)}, "at most 365 days"),
        ({"until": (NOW + timedelta(hours=1)).replace(tzinfo=None)}, "timezone"),
        ({"reason": "   "}, "needs a reason"),
    ],
)
def test_a_bad_hold_is_refused_and_changes_nothing(
    db: Session, settings: Settings, change: dict[str, Any], message: str
) -> None:
    routed = police_case(db, settings)
    with pytest.raises(ValidationFailed, match=message):
        hold(db, settings, routed.case, **change)
    assert service.case_holds(db, routed.case.id) == []
    assert jobs_named(db, service.HOLD_END_JOB) == []


def test_a_closed_case_cannot_be_held(db: Session, settings: Settings) -> None:
    routed = police_case(db, settings)
    routed.case.state = CaseState.CLOSED
    with pytest.raises(Conflict, match="closed"):
        hold(db, settings, routed.case)


def test_a_hold_before_the_route_lets_only_the_police_step_start(
    db: Session, settings: Settings
) -> None:
    routed = police_case(db, settings, start=False)
    placed = hold(db, settings, routed.case)

    started = advance(db, routed.case, settings=settings, now=NOW)

    assert started == [routed.police]
    assert routed.notice.status is StepStatus.WAITING
    service.release_hold(db, placed, ACTOR, settings=settings, now=LATER)
    assert routed.notice.status is StepStatus.IN_PROGRESS


def test_the_queue_shows_the_longest_waiting_first(db: Session, settings: Settings) -> None:
    first = police_case(db, settings)
    second = police_case(db, settings, url="http://host.example/b.jpg", start=False)
    advance(db, second.case, settings=settings, now=LATER)

    assert service.awaiting_police(db) == [first.case, second.case]
    waits = service.police_waits(db, LATER)
    assert [w.waiting_since for w in waits] == [NOW, LATER]
    assert all(w.route.explanation for w in waits)
