"""A notice whose delivery outcome is unknown is settled as sent or sent again, never cancelled.

``test_send_killed`` makes that state with a real SIGKILL; here it is set up directly (the
notice ``sending`` since an attempt at ``STARTED``, as a killed worker leaves it) to cover what
may happen to such a notice next: a police hold, a failed repeat, removal seen by a re-check,
a reversed decision. Delivery is real, to the sandbox's SMTP server on loopback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from takedown.cases.models import Case, CaseState
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.flow import monitoring
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.monitoring.removal import RecheckOutcome, RecheckStatus
from takedown.notices import service as notices
from takedown.notices.models import Notice, NoticeStatus
from takedown.police.models import Hold
from takedown.sandbox.smtp import SmtpSink
from tests.factories import NOW
from tests.notices.support import events_of, new_notice

STARTED = NOW + timedelta(minutes=1)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mail(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={"smtp_host": sink.host, "smtp_port": sink.port, "smtp_timeout": 10.0}
    )


def queued(database: Database, settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    with database.transaction() as session:
        notice = new_notice(session, settings, classification="A1")
        return notice.id, notice.case_id


def cut_off(database: Database, notice_id: uuid.UUID) -> None:
    """The notice as a worker killed after the receiver's 250 leaves it."""
    with database.transaction() as session:
        notice = session.get_one(Notice, notice_id)
        notice.status, notice.sending_started_at, notice.attempts = (
            NoticeStatus.SENDING,
            STARTED,
            1,
        )


def run(database: Database, settings: Settings, at: datetime) -> None:
    """Run every job due at ``at`` (the send job and its retries)."""
    clock = FrozenClock(at)
    worker = Worker(database, settings, clock=clock, registry=load_handlers(settings))
    while worker.run_once():
        pass


def removed(database: Database, settings: Settings, case_id: uuid.UUID) -> None:
    """A re-check sees the content gone."""
    with database.transaction() as session:
        case = session.get_one(Case, case_id)
        outcome = RecheckOutcome(RecheckStatus.REMOVED, "http_404", "404", http_status=404)
        monitoring.record(session, case, outcome, settings=settings, now=LATER)


def load(database: Database, notice_id: uuid.UUID) -> Notice:
    with database.sessions() as session:
        return session.get_one(Notice, notice_id)


def load_case(database: Database, case_id: uuid.UUID) -> Case:
    with database.sessions() as session:
        return session.get_one(Case, case_id)


def assert_sent_at_the_cut_off_attempt(
    database: Database, notice_id: uuid.UUID, case_id: uuid.UUID
) -> None:
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.SENT
    assert notice.sent_at == STARTED
    assert load_case(database, case_id).first_notice_at == STARTED
    with database.sessions() as session:
        [event] = events_of(session, case_id, "notice_sent")
    assert event.data["outcome"] == "uncertain"


def hold(database: Database, case_id: uuid.UUID) -> None:
    with database.transaction() as session:
        session.add(
            Hold(
                case_id=case_id,
                reason="investigation",
                until=NOW + timedelta(days=3),
                created_by="police",
                created_at=NOW,
            )
        )


def test_a_notice_held_after_a_cut_off_attempt_is_recorded_as_sent_on_removal(
    database: Database, mail: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queued(database, mail)
    cut_off(database, notice_id)
    hold(database, case_id)
    run(database, mail, STARTED + timedelta(minutes=10))
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.HELD
    with database.sessions() as session:
        [held] = events_of(session, case_id, "notice_held")
    assert "may have delivered it" in held.message

    removed(database, mail, case_id)

    assert_sent_at_the_cut_off_attempt(database, notice_id, case_id)
    assert sink.messages() == []
    with database.sessions() as session:
        [gone] = events_of(session, case_id, "removed")
    # The removal's time from the first notice counts the notice that may have caused it.
    assert gone.data["from_first_notice_seconds"] == (LATER - STARTED).total_seconds()
    assert gone.data["cancelled_notices"] == 0


def test_a_failed_repeat_of_a_cut_off_attempt_still_counts_as_maybe_delivered(
    database: Database, mail: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queued(database, mail)
    cut_off(database, notice_id)
    sink.fail_next(1, 451)
    run(database, mail, STARTED + timedelta(minutes=10))
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.QUEUED
    assert notice.sending_started_at == STARTED

    removed(database, mail, case_id)

    assert_sent_at_the_cut_off_attempt(database, notice_id, case_id)


def test_a_notice_that_surely_failed_is_still_cancelled_on_removal(
    database: Database, mail: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queued(database, mail)
    sink.fail_next(1, 451)
    run(database, mail, NOW)
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.QUEUED
    assert notice.sending_started_at is None  # nothing may have gone out

    removed(database, mail, case_id)

    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.CANCELLED
    assert notice.sent_at is None
    assert load_case(database, case_id).first_notice_at is None


def test_a_cut_off_attempt_is_not_repeated_for_a_case_no_longer_confirmed(
    database: Database, mail: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queued(database, mail)
    cut_off(database, notice_id)
    with database.transaction() as session:
        session.get_one(Case, case_id).state = CaseState.NOT_ILLEGAL

    run(database, mail, STARTED + timedelta(minutes=10))

    assert_sent_at_the_cut_off_attempt(database, notice_id, case_id)
    assert sink.messages() == []


def test_a_repeat_that_goes_through_says_an_earlier_attempt_may_have_delivered_it(
    database: Database, mail: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queued(database, mail)
    cut_off(database, notice_id)
    run(database, mail, LATER)
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.SENT
    assert notice.sent_at == LATER  # when it surely was
    assert [m.message_id for m in sink.messages()] == [notice.message_id]
    with database.sessions() as session:
        [event] = events_of(session, case_id, "notice_sent")
    assert event.data["outcome"] == "confirmed"
    assert event.data["earlier_attempt_at"] == STARTED.isoformat()
    assert "same Message-ID" in event.message


def test_cancelling_open_notices_records_a_held_maybe_delivered_one_as_sent(
    database: Database, mail: Settings
) -> None:
    notice_id, case_id = queued(database, mail)
    with database.transaction() as session:
        notice = session.get_one(Notice, notice_id)
        notice.status, notice.sending_started_at = NoticeStatus.HELD, STARTED
        assert (
            notices.cancel_open(session, case_id, "the confirmation was reversed", now=LATER) == 0
        )
    assert_sent_at_the_cut_off_attempt(database, notice_id, case_id)
