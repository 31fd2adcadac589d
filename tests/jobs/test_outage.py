"""A job the database's absence interrupted costs no attempt and is retried soon."""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import OperationalError

from takedown.clock import FrozenClock
from takedown.db.session import Database
from takedown.jobs.models import JobStatus
from takedown.jobs.registry import JobContext
from takedown.jobs.worker import Worker
from tests.jobs.handlers import HOOKS
from tests.jobs.support import load
from tests.jobs.test_worker import add


def _server_gone(ctx: JobContext) -> None:
    # What SQLAlchemy raises when PostgreSQL is stopped under a running statement.
    raise OperationalError(
        "SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly")
    )


def _lock_timeout(ctx: JobContext) -> None:
    raise OperationalError(
        "SELECT 1", {}, psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    )


def test_an_outage_requeues_without_using_an_attempt(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    HOOKS["gone"] = _server_gone
    job_id = add(jobs_db, "tests.hook", {"hook": "gone"}, clock=clock, max_attempts=2)
    for _ in range(5):
        assert worker.run_once()
        job = load(jobs_db, job_id)
        assert (job.status, job.attempts) == (JobStatus.FAILED, 0)
        assert job.last_error is not None
        assert job.last_error.startswith("database unreachable, retried")
        # Soon: seconds, not the backoff of a failing job.
        assert (job.run_at - clock.now()).total_seconds() <= 10
        clock.advance(job.run_at - clock.now())


def test_a_lock_timeout_is_an_ordinary_failure(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    HOOKS["locked"] = _lock_timeout
    job_id = add(jobs_db, "tests.hook", {"hook": "locked"}, clock=clock, max_attempts=2)
    assert worker.run_once()
    assert (load(jobs_db, job_id).status, load(jobs_db, job_id).attempts) == (
        JobStatus.FAILED,
        1,
    )
