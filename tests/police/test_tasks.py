"""The police jobs: a deconfliction wait running out (proceed or remind), a hold ending."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import JobStatus
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.notices.models import NoticeStatus
from takedown.notices.service import SEND_JOB
from takedown.notices.steps import POLICE_TIMEOUT_JOB
from takedown.police import service
from takedown.police.models import Hold
from takedown.routing.models import PoliceTimeout, RouteStep, StepStatus
from takedown.routing.service import reroute
from tests.factories import ACTOR, NOW

from .support import (
    WAIT,
    Routed,
    event_kinds,
    jobs_named,
    notices_of,
    police_case,
    police_settings,
    run_handler,
)

DUE = NOW + timedelta(seconds=WAIT)


def timeout(
    db: Session, database: Database, settings: Settings, routed: Routed, at: datetime = DUE
) -> None:
    payload = {"case_id": str(routed.case.id), "step_id": str(routed.police.id)}
    run_handler(db, database, settings, POLICE_TIMEOUT_JOB, payload, at)


def hold_end(
    db: Session, database: Database, settings: Settings, hold: Hold, at: datetime = DUE
) -> None:
    run_handler(db, database, settings, service.HOLD_END_JOB, {"hold_id": str(hold.id)}, at)


def place(db: Session, settings: Settings, routed: Routed, until: timedelta) -> Hold:
    return service.place_hold(
        db,
        routed.case,
        ACTOR,
        until=NOW + until,
        reason="Investigation 2026-042 under way",
        preserve_evidence=False,
        settings=settings,
        now=NOW,
    )


def test_no_answer_in_time_proceeds_with_the_notice(
    db: Session, database: Database, settings: Settings
) -> None:
    routed = police_case(db, settings)

    timeout(db, database, settings, routed)

    assert routed.police.status is StepStatus.DONE
    assert routed.notice.status is StepStatus.IN_PROGRESS
    [notice] = notices_of(db, routed.case.id)
    assert notice.status is NoticeStatus.QUEUED
    assert len(jobs_named(db, SEND_JOB)) == 1
    assert "police_timeout" in event_kinds(db, routed.case.id)

    # Idempotent: the step is done, a second run changes nothing.
    timeout(db, database, settings, routed, DUE + timedelta(minutes=1))
    assert len(notices_of(db, routed.case.id)) == 1
    assert event_kinds(db, routed.case.id).count("police_timeout") == 1


def test_no_answer_in_time_reminds_police_when_the_rule_says_so(
    db: Session, database: Database, settings: Settings
) -> None:
    routed = police_case(db, settings, on_timeout=PoliceTimeout.REMIND)

    timeout(db, database, settings, routed)

    assert routed.police.status is StepStatus.IN_PROGRESS
    assert routed.notice.status is StepStatus.WAITING
    assert notices_of(db, routed.case.id) == []
    assert jobs_named(db, SEND_JOB) == []
    first, second = jobs_named(db, POLICE_TIMEOUT_JOB)
    assert second.run_at == DUE + timedelta(seconds=WAIT)
    assert second.payload == first.payload
    assert event_kinds(db, routed.case.id).count("police_reminder") == 1
    [wait] = service.police_waits(db, DUE)
    assert (wait.waiting_since, wait.due_at, wait.reminders) == (NOW, second.run_at, 1)

    timeout(db, database, settings, routed, second.run_at)
    assert event_kinds(db, routed.case.id).count("police_reminder") == 2
    assert len(jobs_named(db, POLICE_TIMEOUT_JOB)) == 3
    assert notices_of(db, routed.case.id) == []


def test_a_timeout_while_held_leaves_the_decision_to_the_hold(
    db: Session, database: Database, settings: Settings
) -> None:
    routed = police_case(db, settings)
    place(db, settings, routed, timedelta(hours=3))

    timeout(db, database, settings, routed)

    assert routed.police.status is StepStatus.IN_PROGRESS
    assert notices_of(db, routed.case.id) == []
    assert "police_timeout" not in event_kinds(db, routed.case.id)
    assert len(jobs_named(db, POLICE_TIMEOUT_JOB)) == 1


def test_a_timeout_after_police_answered_or_a_new_route_does_nothing(
    db: Session, database: Database, settings: Settings
) -> None:
    cleared = police_case(db, settings)
    service.clear(db, cleared.case, ACTOR, settings=settings, now=NOW)
    timeout(db, database, settings, cleared)
    assert "police_timeout" not in event_kinds(db, cleared.case.id)
    assert len(notices_of(db, cleared.case.id)) == 1

    rerouted = police_case(db, settings, url="http://host.example/b.jpg")
    reroute(db, rerouted.case.id, settings=settings, now=NOW + timedelta(minutes=1), actor=SYSTEM)
    # The old route's police step is still in progress, but the case has moved on.
    assert rerouted.police.status is StepStatus.IN_PROGRESS
    timeout(db, database, settings, rerouted)
    assert rerouted.police.status is StepStatus.IN_PROGRESS
    assert notices_of(db, rerouted.case.id) == []
    assert "police_timeout" not in event_kinds(db, rerouted.case.id)
    assert service.awaiting_police(db) == []


def test_the_end_of_a_hold_releases_it_and_starts_the_notice(
    db: Session, database: Database, settings: Settings
) -> None:
    routed = police_case(db, settings)
    hold = place(db, settings, routed, timedelta(hours=2))

    hold_end(db, database, settings, hold, NOW + timedelta(hours=1))  # early: nothing yet
    assert hold.released_at is None
    assert notices_of(db, routed.case.id) == []

    end = NOW + timedelta(hours=2)
    hold_end(db, database, settings, hold, end)

    assert (hold.released_at, hold.released_by, hold.release_note) == (
        end,
        SYSTEM.label,
        service.EXPIRED_NOTE,
    )
    assert routed.police.status is StepStatus.DONE
    assert len(notices_of(db, routed.case.id)) == 1

    hold_end(db, database, settings, hold, end + timedelta(minutes=5))  # idempotent
    assert hold.released_at == end
    assert len(notices_of(db, routed.case.id)) == 1
    assert event_kinds(db, routed.case.id).count("police_hold_released") == 1


def test_the_end_of_a_hold_released_by_police_does_nothing(
    db: Session, database: Database, settings: Settings
) -> None:
    routed = police_case(db, settings)
    hold = place(db, settings, routed, timedelta(hours=2))
    service.release_hold(db, hold, ACTOR, settings=settings, now=NOW + timedelta(minutes=5))

    hold_end(db, database, settings, hold, NOW + timedelta(hours=2))

    assert hold.released_by == ACTOR.label
    assert len(notices_of(db, routed.case.id)) == 1


def test_a_worker_runs_the_timeout_and_the_end_of_the_hold(
    database: Database, settings: Settings
) -> None:
    """Through the worker: the timeout finds the hold and waits, the hold's end lets go."""
    with database.transaction() as session:
        routed = police_case(session, settings)
        place(session, settings, routed, timedelta(hours=2))
        case_id, step_id = routed.case.id, routed.police.id
    settings = police_settings(settings)
    clock = FrozenClock(NOW + timedelta(minutes=90))
    worker = Worker(database, settings, clock=clock, registry=load_handlers(settings))

    assert worker.run_once()  # police.timeout, due after an hour: the case is held
    assert not worker.run_once()
    with database.transaction() as session:
        assert session.get_one(RouteStep, step_id).status is StepStatus.IN_PROGRESS
        assert notices_of(session, case_id) == []

    clock.advance(timedelta(minutes=30))
    assert worker.run_once()  # police.hold_end
    with database.transaction() as session:
        assert session.get_one(RouteStep, step_id).status is StepStatus.DONE
        [notice] = notices_of(session, case_id)
        assert notice.status is NoticeStatus.QUEUED
        jobs = jobs_named(session, POLICE_TIMEOUT_JOB) + jobs_named(session, service.HOLD_END_JOB)
        assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
        assert len(jobs_named(session, SEND_JOB)) == 1
