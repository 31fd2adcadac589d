"""A handler's ``on_dead`` runs when its job gives up, in the transaction that buries it."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.registry import HandlerRegistry, JobContext
from takedown.jobs.worker import Worker
from tests.jobs.handlers import EFFECTS

DIED: list[tuple[str, int, str]] = []


def _fails(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise RuntimeError(f"broken {payload['label']}")


def _record_death(ctx: JobContext, payload: dict[str, Any], error: str) -> None:
    DIED.append((payload["label"], ctx.attempt, error))
    ctx.session.execute(
        EFFECTS.insert().values(job_id=str(ctx.job_id), label="died", attempt=ctx.attempt)
    )


def _broken_reaction(ctx: JobContext, payload: dict[str, Any], error: str) -> None:
    ctx.session.execute(
        EFFECTS.insert().values(job_id=str(ctx.job_id), label="half", attempt=ctx.attempt)
    )
    raise RuntimeError("the reaction itself fails")


def make_worker(database: Database, settings: Settings, clock: FrozenClock) -> Worker:
    registry = HandlerRegistry()
    registry.handler("tests.dies", max_attempts=2, on_dead=_record_death)(_fails)
    registry.handler("tests.dies_badly", max_attempts=1, on_dead=_broken_reaction)(_fails)
    registry.handler("tests.no_reaction", max_attempts=1)(_fails)
    return Worker(
        database, settings, clock, worker_id="w1", registry=registry, rng=random.Random(1)
    )


def effects(database: Database) -> list[str]:
    with database.sessions() as session:
        return list(session.scalars(select(EFFECTS.c.label)))


def status(database: Database, job_id: Any) -> JobStatus:
    with database.sessions() as session:
        return session.get_one(Job, job_id).status


def test_on_dead_runs_once_when_the_attempts_are_used_up(
    jobs_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    DIED.clear()
    worker = make_worker(jobs_db, settings, clock)
    with jobs_db.transaction() as session:
        job_id = jobs.enqueue(session, "tests.dies", {"label": "a"}, clock=clock).id
    assert worker.run_once()
    assert status(jobs_db, job_id) is JobStatus.FAILED
    assert DIED == []  # a failure with attempts left is not a death
    clock.advance(timedelta(hours=1))
    assert worker.run_once()
    assert status(jobs_db, job_id) is JobStatus.DEAD
    assert DIED == [("a", 2, "RuntimeError: broken a")]
    assert effects(jobs_db) == ["died"]


def test_a_failing_reaction_is_undone_but_the_job_is_still_dead(
    jobs_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    worker = make_worker(jobs_db, settings, clock)
    with jobs_db.transaction() as session:
        job_id = jobs.enqueue(session, "tests.dies_badly", {"label": "b"}, clock=clock).id
    assert worker.run_once()
    assert status(jobs_db, job_id) is JobStatus.DEAD
    assert effects(jobs_db) == []  # the reaction's savepoint was rolled back
    assert not worker.run_once()  # and the dead job is not claimed again


def test_a_job_without_a_reaction_just_dies(
    jobs_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    worker = make_worker(jobs_db, settings, clock)
    with jobs_db.transaction() as session:
        job_id = jobs.enqueue(session, "tests.no_reaction", {"label": "c"}, clock=clock).id
    assert worker.run_once()
    assert status(jobs_db, job_id) is JobStatus.DEAD


def test_on_dead_runs_when_the_last_attempt_lost_its_lease(
    jobs_db: Database, settings: Settings, clock: FrozenClock
) -> None:
    """A job whose worker died on its last attempt (killed, out of memory) is buried."""
    DIED.clear()
    worker = make_worker(jobs_db, settings, clock)
    with jobs_db.transaction() as session:
        job = jobs.enqueue(session, "tests.dies", {"label": "d"}, clock=clock)
        job.status = JobStatus.RUNNING
        job.attempts = 2
        job.locked_by = "gone/1"
        job.locked_until = clock.now() - timedelta(seconds=1)
        job_id = job.id
    assert not worker.run_once()
    assert status(jobs_db, job_id) is JobStatus.DEAD
    assert DIED == [("d", 2, "attempt 2 lost its lease and no attempts are left")]
    assert effects(jobs_db) == ["died"]
