"""The ``notices.send`` job against a real SMTP server on loopback (the sandbox's sink).

Organizations are fictional and URLs are example URLs; the items are hashes only.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from takedown.cases.models import Case
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.monitoring.schedule import RECHECK_JOB
from takedown.notices import service as notices
from takedown.notices.channels import verify_signature
from takedown.notices.models import Notice, NoticeStatus
from takedown.notices.xarf import validate_xarf
from takedown.police.models import Hold
from takedown.sandbox.smtp import SmtpSink
from tests.factories import NOW
from tests.jobs.support import start_runner, wait_until
from tests.notices.support import HookServer, new_notice

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-webhook-secret-of-enough-length"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={"smtp_host": sink.host, "smtp_port": sink.port, "smtp_timeout": 10.0}
    )


def queue_notice(
    database: Database, settings: Settings, now: datetime = NOW, **org: Any
) -> tuple[str, str]:
    """A confirmed case with one known item and a queued notice; (notice id, case id)."""
    with database.transaction() as session:
        notice = new_notice(session, settings, classification="A1", now=now, **org)
        return str(notice.id), str(notice.case_id)


def worker(database: Database, settings: Settings, clock: FrozenClock | None = None) -> Worker:
    return Worker(
        database, settings, clock=clock or FrozenClock(NOW), registry=load_handlers(settings)
    )


def load(database: Database, notice_id: str) -> Notice:
    with database.sessions() as session:
        return session.get_one(Notice, uuid.UUID(notice_id))


def test_a_notice_is_mailed_once_with_its_xarf_and_starts_monitoring(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queue_notice(database, mail_settings)
    assert worker(database, mail_settings).run_once()

    [received] = sink.wait_for(1)
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.SENT
    assert notice.sent_at == NOW
    assert received.message_id == notice.message_id
    assert received.reference == notice.reference
    assert received.rcpt_tos == ["abuse@hosting.example"]
    assert len(received.xarf) == 1
    assert validate_xarf(received.xarf[0]) == []
    assert received.xarf[0]["url"] == "http://files.example/album/1"
    assert received.xarf[0]["classification"] == "A1"
    assert notices.answer_url(mail_settings, notice.id) in (received.text or "")
    with database.sessions() as session:
        case = session.get_one(Case, uuid.UUID(case_id))
        assert case.first_notice_at == NOW
        [recheck] = session.scalars(select(Job).where(Job.name == RECHECK_JOB)).all()
        assert recheck.run_at == NOW + mail_settings.recheck_first
    # Sending the same notice again (a duplicate job) sends nothing more.
    with database.transaction() as session:
        jobs.enqueue(session, notices.SEND_JOB, {"notice_id": notice_id}, run_at=NOW)
    assert worker(database, mail_settings).run_once()
    assert len(sink.messages()) == 1


def test_a_temporary_failure_is_retried_with_the_same_message_id(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    notice_id, _ = queue_notice(database, mail_settings)
    sink.fail_next(1, 451)
    clock = FrozenClock(NOW)
    assert worker(database, mail_settings, clock).run_once()
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.QUEUED
    assert notice.last_error
    assert "451" in notice.last_error
    assert sink.messages() == []

    clock.advance(timedelta(hours=1))
    assert worker(database, mail_settings, clock).run_once()
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.SENT
    assert notice.attempts == 2
    assert [m.message_id for m in sink.messages()] == [notice.message_id]


def test_an_unreachable_smtp_server_keeps_the_notice_queued(
    database: Database, settings: Settings
) -> None:
    closed = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": 9, "smtp_timeout": 2}
    )
    notice_id, _ = queue_notice(database, closed)
    assert worker(database, closed).run_once()
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.QUEUED
    assert notice.last_error
    with database.sessions() as session:
        job = session.scalars(select(Job).where(Job.name == notices.SEND_JOB)).one()
        assert job.status is JobStatus.FAILED
        assert job.run_at > NOW


def test_a_permanent_refusal_fails_the_notice_and_flags_the_case(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queue_notice(database, mail_settings)
    sink.fail_next(1, 550)
    assert worker(database, mail_settings).run_once()
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.FAILED
    with database.sessions() as session:
        assert session.get_one(Case, uuid.UUID(case_id)).escalated_at == NOW


def test_a_police_hold_keeps_the_notice_back(
    database: Database, mail_settings: Settings, sink: SmtpSink
) -> None:
    notice_id, case_id = queue_notice(database, mail_settings)
    with database.transaction() as session:
        session.add(
            Hold(
                case_id=uuid.UUID(case_id),
                reason="investigation",
                until=NOW + timedelta(days=3),
                created_by="police",
                created_at=NOW,
            )
        )
    assert worker(database, mail_settings).run_once()
    assert load(database, notice_id).status is NoticeStatus.HELD
    assert sink.messages() == []


def test_a_webhook_notice_is_signed_and_carries_the_xarf(
    database: Database, settings: Settings
) -> None:
    receiver = HookServer().start()
    try:
        where = f"127.0.0.1:{receiver.port}"
        hooked = settings.model_copy(update={"fetch_allow_hosts": [where]})
        notice_id, _ = queue_notice(
            database, hooked, webhook_url=f"http://{where}/takedown", webhook_secret=SECRET
        )
        assert worker(database, hooked).run_once()
    finally:
        receiver.close()
    [received] = receiver.answers.received
    headers, body = received.headers, received.body
    notice = load(database, notice_id)
    assert notice.status is NoticeStatus.SENT
    assert headers["Idempotency-Key"] == str(notice.id)
    assert verify_signature(SECRET, headers["Takedown-Signature"], body, datetime.now(UTC))
    document = json.loads(body)
    assert document["reference"] == notice.reference
    assert validate_xarf(document["xarf"][0]) == []


@pytest.mark.slow
def test_killing_the_worker_mid_send_never_sends_a_second_notice(
    committed: Database, database_url: str, settings: Settings, sink: SmtpSink, tmp_path: Path
) -> None:
    mail = settings.model_copy(
        update={"smtp_host": sink.host, "smtp_port": sink.port, "job_lease_seconds": 2}
    )
    # The worker process runs on the real clock.
    started = datetime.now(UTC)
    notice_id, _ = queue_notice(committed, mail, started)
    # The sink takes the message, then keeps the client waiting for its reply: the worker is
    # killed while the notice is on the wire.
    sink.set_delay(30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")} | {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "TAKEDOWN_SMTP_HOST": sink.host,
        "TAKEDOWN_SMTP_PORT": str(sink.port),
        "TAKEDOWN_JOB_LEASE_SECONDS": "2",
        "TAKEDOWN_WORKER_POLL_SECONDS": "0.1",
    }
    process = start_runner(env, tmp_path, "worker.log")
    try:
        wait_until(lambda: len(sink.messages()) == 1, 60, "the worker to start sending")
        process.kill()
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert load(committed, notice_id).status is NoticeStatus.SENDING

    sink.set_delay(0)
    rescuer = worker(committed, mail, FrozenClock(started + timedelta(minutes=5)))
    wait_until(
        lambda: rescuer.run_once() and load(committed, notice_id).status is NoticeStatus.SENT,
        30,
        "another worker to finish the notice",
    )
    notice = load(committed, notice_id)
    assert notice.attempts == 2
    # Whatever reached the provider is one notice: every copy has the notice's Message-ID.
    assert set(sink.by_message_id()) == {notice.message_id}
    assert {m.reference for m in sink.messages()} == {notice.reference}
