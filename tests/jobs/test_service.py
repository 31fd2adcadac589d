"""Enqueueing in the caller's transaction, dedup, listing, retry, counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from takedown.clock import FrozenClock
from takedown.db.session import Database
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.jobs.models import JobStatus
from takedown.jobs.service import (
    enqueue,
    enqueue_unique,
    get_job,
    list_jobs,
    queue_counts,
    retry_job,
)
from tests.jobs.handlers import EFFECTS
from tests.jobs.support import effects

NO_JOBS = {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "dead": 0}


def test_enqueue_adds_a_queued_job_to_the_callers_session(db: Session, clock: FrozenClock) -> None:
    job = enqueue(db, "tests.record", {"case_id": "abc", "n": 2}, priority=3, clock=clock)
    db.flush()
    stored = get_job(db, job.id)
    assert stored.status is JobStatus.QUEUED
    assert stored.payload == {"case_id": "abc", "n": 2}
    assert (stored.run_at, stored.priority, stored.attempts) == (clock.now(), 3, 0)
    assert stored.max_attempts is None
    assert stored.locked_by is None


def change_and_enqueue(database: Database, *, fail: bool) -> None:
    """A state change and the job it causes, in one transaction that may fail."""
    with database.transaction() as session:
        session.execute(EFFECTS.insert().values(job_id="-", label="the change", attempt=0))
        enqueue(session, "tests.record")
        if fail:
            raise RuntimeError("the change failed")


def test_a_rolled_back_change_leaves_no_job(committed_jobs: Database) -> None:
    with pytest.raises(RuntimeError, match="the change failed"):
        change_and_enqueue(committed_jobs, fail=True)
    with committed_jobs.transaction() as session:
        assert queue_counts(session) == NO_JOBS
    assert effects(committed_jobs) == []

    change_and_enqueue(committed_jobs, fail=False)
    with committed_jobs.transaction() as session:
        assert queue_counts(session) == NO_JOBS | {"queued": 1}
    assert effects(committed_jobs) == [("-", "the change", 0)]


@pytest.mark.parametrize(
    "name", ["record", "Tests.record", "tests.record.now", "tests.", ".record", "a" * 98 + ".bc"]
)
def test_enqueue_refuses_a_name_that_is_not_domain_dot_verb(db: Session, name: str) -> None:
    with pytest.raises(ValidationFailed, match=r"<domain>\.<verb>"):
        enqueue(db, name)


@pytest.mark.parametrize(
    "payload",
    [{"case_id": uuid.uuid4()}, {"at": datetime.now(UTC)}, {"x": float("nan")}, {1: "a"}],
)
def test_enqueue_refuses_a_payload_that_is_not_plain_json(db: Session, payload: Any) -> None:
    with pytest.raises(ValidationFailed, match="payload"):
        enqueue(db, "tests.record", payload)


def test_enqueue_refuses_naive_run_at_and_bad_limits(db: Session) -> None:
    with pytest.raises(ValidationFailed, match="timezone"):
        enqueue(db, "tests.record", run_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationFailed, match="max_attempts"):
        enqueue(db, "tests.record", max_attempts=0)
    with pytest.raises(ValidationFailed, match="dedup_key"):
        enqueue(db, "tests.record", dedup_key="")


def test_a_dedup_key_gives_one_job_ever(db: Session, clock: FrozenClock) -> None:
    first = enqueue(db, "tests.record", {"n": 1}, dedup_key="notice-1", clock=clock)
    again = enqueue(db, "tests.record", {"n": 2}, dedup_key="notice-1", clock=clock)
    assert again.id == first.id
    assert again.payload == {"n": 1}
    assert enqueue_unique(db, "tests.record", dedup_key="notice-1") is None
    assert enqueue_unique(db, "tests.record", dedup_key="notice-2") is not None
    assert queue_counts(db)["queued"] == 2


def test_list_jobs_filters_by_status_and_name_and_pages(db: Session, clock: FrozenClock) -> None:
    a = enqueue(db, "tests.record", clock=clock)
    b = enqueue(db, "tests.fail", clock=clock)
    c = enqueue(db, "tests.record", clock=clock)
    c.status = JobStatus.DEAD
    db.flush()
    assert {j.id for j in list_jobs(db)} == {a.id, b.id, c.id}
    assert [j.id for j in list_jobs(db, name="tests.fail")] == [b.id]
    assert [j.id for j in list_jobs(db, status=JobStatus.DEAD)] == [c.id]
    assert {j.id for j in list_jobs(db, status=JobStatus.QUEUED, name="tests.record")} == {a.id}
    assert len(list_jobs(db, limit=2)) == 2
    assert len(list_jobs(db, limit=2, offset=2)) == 1
    with pytest.raises(ValidationFailed):
        list_jobs(db, limit=0)


def test_get_job_of_an_unknown_id_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        get_job(db, uuid.uuid4())


def test_retry_queues_a_dead_job_now_with_fresh_attempts(db: Session, clock: FrozenClock) -> None:
    job = enqueue(db, "tests.fail", run_at=clock.now() - timedelta(days=1), clock=clock)
    job.status, job.attempts, job.last_error = JobStatus.DEAD, 3, "ValueError: boom"
    job.finished_at = clock.now()
    db.flush()
    clock.advance(timedelta(hours=1))

    retried = retry_job(db, job.id, clock=clock)

    assert retried.status is JobStatus.QUEUED
    assert (retried.run_at, retried.attempts, retried.finished_at) == (clock.now(), 0, None)
    assert retried.last_error == "ValueError: boom"


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED])
def test_retry_refuses_a_job_that_has_not_failed(db: Session, status: JobStatus) -> None:
    job = enqueue(db, "tests.record")
    job.status = status
    db.flush()
    with pytest.raises(Conflict, match=status.value):
        retry_job(db, job.id)
    assert get_job(db, job.id).status is status


def test_queue_counts_name_every_status(db: Session) -> None:
    assert queue_counts(db) == NO_JOBS
    enqueue(db, "tests.record")
    failed = enqueue(db, "tests.record")
    failed.status = JobStatus.FAILED
    db.flush()
    assert queue_counts(db) == NO_JOBS | {"queued": 1, "failed": 1}


def test_every_status_has_a_label() -> None:
    assert JobStatus.FAILED.label == "Failed, will retry"
    assert all(status.label for status in JobStatus)
