"""One worker on a frozen clock: success, retries, dead jobs, delays, leases, the scheduler."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from takedown.clock import Clock, FrozenClock, SystemClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import LAST_ERROR_MAX_CHARS, JobStatus
from takedown.jobs.registry import HandlerRegistry, JobContext, JobHandler
from takedown.jobs.service import enqueue, list_jobs
from takedown.jobs.worker import Worker, describe_error, slot_start
from tests.jobs import handlers
from tests.jobs.handlers import HOOKS
from tests.jobs.support import effects, load, wait_until


def add(
    database: Database,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    run_at: datetime | None = None,
    priority: int = 0,
    max_attempts: int | None = None,
) -> uuid.UUID:
    """Enqueue and commit one job; return its id."""
    with database.transaction() as session:
        job = enqueue(
            session,
            name,
            payload,
            clock=clock,
            run_at=run_at,
            priority=priority,
            max_attempts=max_attempts,
        )
        return job.id


def test_a_job_runs_once_and_commits_its_work_with_its_success(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    job_id = add(jobs_db, "tests.record", {"label": "done"}, clock=clock)

    assert worker.run_once()

    job = load(jobs_db, job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert (job.attempts, job.started_at, job.finished_at) == (1, clock.now(), clock.now())
    assert job.locked_until is None
    assert job.locked_by is not None
    assert job.locked_by.startswith("w1/")
    assert job.last_error is None
    assert effects(jobs_db) == [(str(job_id), "done", 1)]
    assert not worker.run_once()


def test_an_empty_queue_runs_nothing(worker: Worker) -> None:
    assert not worker.run_once()


def test_a_failing_job_is_retried_with_backoff_then_dead(
    worker: Worker, jobs_db: Database, clock: FrozenClock, settings: Settings
) -> None:
    job_id = add(jobs_db, "tests.fail", {"message": "host unreachable"}, clock=clock)
    base = settings.job_backoff_base_seconds

    for attempt in (1, 2):
        failed_at = clock.now()
        assert worker.run_once()
        job = load(jobs_db, job_id)
        assert (job.status, job.attempts) == (JobStatus.FAILED, attempt)
        assert job.last_error == "ValueError: host unreachable"
        assert job.locked_until is None
        delay = (job.run_at - failed_at).total_seconds()
        assert base * 2 ** (attempt - 1) / 2 <= delay <= base * 2 ** (attempt - 1)
        clock.advance(job.run_at - clock.now() - timedelta(seconds=1))
        assert not worker.run_once(), "ran before its backoff was over"
        clock.advance(timedelta(seconds=1))

    assert worker.run_once()
    job = load(jobs_db, job_id)
    assert (job.status, job.attempts, job.finished_at) == (JobStatus.DEAD, 3, clock.now())
    assert job.last_error == "ValueError: host unreachable"
    assert effects(jobs_db) == [], "a failed attempt's work was committed"
    clock.advance(timedelta(days=30))
    assert not worker.run_once()


def test_a_job_succeeds_on_a_later_attempt_and_its_work_commits_once(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    job_id = add(jobs_db, "tests.flaky", {"succeed_on": 2}, clock=clock)
    assert worker.run_once()
    clock.advance(timedelta(hours=1))
    assert worker.run_once()
    job = load(jobs_db, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert job.last_error == "RuntimeError: attempt 1 fails on purpose"
    assert effects(jobs_db) == [(str(job_id), "", 2)]


def test_max_attempts_comes_from_the_job_then_the_handler_then_settings(
    jobs_db: Database, clock: FrozenClock, settings: Settings
) -> None:
    worker = Worker(jobs_db, settings.model_copy(update={"job_max_attempts": 2}), clock)
    own = add(jobs_db, "tests.fail", max_attempts=1, clock=clock)
    by_handler = add(jobs_db, "tests.fail", clock=clock)  # the handler says 3
    by_settings = add(jobs_db, "tests.flaky", {"succeed_on": 9}, clock=clock)
    for _ in range(10):
        clock.advance(timedelta(hours=2))
        while worker.run_once():
            pass
    assert [load(jobs_db, i).attempts for i in (own, by_handler, by_settings)] == [1, 3, 2]
    assert {load(jobs_db, i).status for i in (own, by_handler, by_settings)} == {JobStatus.DEAD}


def test_a_job_without_a_handler_fails_with_a_clear_error(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    job_id = add(jobs_db, "tests.unknown", max_attempts=2, clock=clock)
    assert worker.run_once()
    job = load(jobs_db, job_id)
    assert job.status is JobStatus.FAILED
    assert job.last_error == "no handler is registered for job 'tests.unknown' in this worker"
    clock.advance(timedelta(hours=1))
    assert worker.run_once()
    assert load(jobs_db, job_id).status is JobStatus.DEAD


def test_a_delayed_job_does_not_run_early(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    job_id = add(jobs_db, "tests.record", run_at=clock.now() + timedelta(hours=1), clock=clock)
    assert not worker.run_once()
    clock.advance(timedelta(minutes=59, seconds=59))
    assert not worker.run_once()
    clock.advance(timedelta(seconds=1))
    assert worker.run_once()
    assert load(jobs_db, job_id).status is JobStatus.SUCCEEDED


def test_lower_priority_runs_first_then_older(
    worker: Worker, jobs_db: Database, clock: FrozenClock
) -> None:
    add(jobs_db, "tests.record", {"label": "late"}, priority=0, clock=clock)
    add(jobs_db, "tests.record", {"label": "urgent"}, priority=-1, clock=clock)
    earlier = clock.now() - timedelta(minutes=1)
    add(jobs_db, "tests.record", {"label": "early"}, priority=0, run_at=earlier, clock=clock)
    while worker.run_once():
        pass
    assert [label for _, label, _ in effects(jobs_db)] == ["urgent", "early", "late"]


def test_an_expired_lease_is_claimed_again(
    jobs_db: Database, clock: FrozenClock, settings: Settings
) -> None:
    job_id = add(jobs_db, "tests.record", clock=clock)
    dead = Worker(jobs_db, settings, clock, worker_id="dead")
    rescuer = Worker(jobs_db, settings, clock, worker_id="rescuer")
    assert dead.claim() is not None  # ... and then the worker was killed

    clock.advance(timedelta(seconds=settings.job_lease_seconds))
    assert not rescuer.run_once(), "took over a job whose lease had not run out"
    clock.advance(timedelta(seconds=1))
    assert rescuer.run_once()

    job = load(jobs_db, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert job.locked_by is not None
    assert job.locked_by.startswith("rescuer/")
    assert job.last_error == "attempt 1 lost its lease (its worker stopped or it timed out)"
    assert effects(jobs_db) == [(str(job_id), "", 2)]


def test_an_expired_lease_without_attempts_left_is_dead(
    jobs_db: Database, clock: FrozenClock, settings: Settings
) -> None:
    job_id = add(jobs_db, "tests.record", max_attempts=1, clock=clock)
    assert Worker(jobs_db, settings, clock).claim() is not None
    clock.advance(timedelta(seconds=settings.job_lease_seconds + 1))
    assert not Worker(jobs_db, settings, clock).run_once()
    job = load(jobs_db, job_id)
    assert job.status is JobStatus.DEAD
    assert job.last_error == "attempt 1 lost its lease and no attempts are left"
    assert effects(jobs_db) == []


def test_a_lost_lease_rolls_the_late_attempts_work_back(
    committed_jobs: Database, clock: FrozenClock, settings: Settings
) -> None:
    slow = Worker(committed_jobs, settings, clock, worker_id="slow")
    fast = Worker(committed_jobs, settings, clock, worker_id="fast")

    def stall_then_lose_the_lease(ctx: JobContext) -> None:
        if ctx.attempt == 1:
            # The first attempt stalls past its lease; another worker takes the job over and
            # finishes it before the first attempt writes anything.
            clock.advance(timedelta(seconds=settings.job_lease_seconds + 1))
            assert fast.run_once()

    HOOKS["stall"] = stall_then_lose_the_lease
    job_id = add(committed_jobs, "tests.hook", {"hook": "stall"}, clock=clock)

    assert slow.run_once()

    job = load(committed_jobs, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert job.locked_by is not None
    assert job.locked_by.startswith("fast/")
    assert effects(committed_jobs) == [(str(job_id), "", 2)], "work committed twice"


def test_a_timeout_bounds_the_lease(
    jobs_db: Database, clock: FrozenClock, settings: Settings
) -> None:
    registry = HandlerRegistry()
    timeout = timedelta(seconds=30)
    registry.register(JobHandler("tests.record", handlers.record_effect, timeout=timeout))
    worker = Worker(jobs_db, settings, clock, registry=registry)
    job_id = add(jobs_db, "tests.record", clock=clock)
    started = clock.now()

    claim = worker.claim()
    assert claim is not None
    assert load(jobs_db, job_id).locked_until == started + timedelta(seconds=30)
    clock.advance(timedelta(seconds=20))
    assert worker.renew_lease(claim)
    assert load(jobs_db, job_id).locked_until == started + timedelta(seconds=30)
    clock.advance(timedelta(seconds=10))
    assert not worker.renew_lease(claim)


def test_the_heartbeat_renews_the_lease_of_a_long_job(
    committed_jobs: Database, settings: Settings
) -> None:
    settings = settings.model_copy(update={"job_lease_seconds": 2})
    worker = Worker(committed_jobs, settings, SystemClock())
    renewed: list[datetime] = []

    def wait_for_a_heartbeat(ctx: JobContext) -> None:
        # Reads through its own transaction: the handler's session has not written yet.
        first = load(committed_jobs, ctx.job_id).locked_until
        assert first is not None

        def beat() -> bool:
            until = load(committed_jobs, ctx.job_id).locked_until
            if until is None or until <= first:
                return False
            renewed.append(until)
            return True

        wait_until(beat, 10, "a lease renewal")

    HOOKS["wait"] = wait_for_a_heartbeat
    job_id = add(committed_jobs, "tests.hook", {"hook": "wait"})
    assert worker.run_once()
    assert load(committed_jobs, job_id).status is JobStatus.SUCCEEDED
    assert renewed


def test_run_works_until_stopped(committed_jobs: Database, settings: Settings) -> None:
    settings = settings.model_copy(update={"worker_poll_seconds": 0.05})
    worker = Worker(committed_jobs, settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        job_id = add(committed_jobs, "tests.record")
        wait_until(lambda: load(committed_jobs, job_id).status is JobStatus.SUCCEEDED, 20, "job")
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


def test_the_scheduler_enqueues_once_per_slot_whatever_the_number_of_schedulers(
    jobs_db: Database, clock: FrozenClock, settings: Settings
) -> None:
    registry = HandlerRegistry()
    every = timedelta(minutes=5)
    registry.register(JobHandler("tests.record", handlers.record_effect, every=every))
    one, two = (Worker(jobs_db, settings, clock, registry=registry) for _ in range(2))
    clock.advance(timedelta(minutes=1))  # 09:01, in the slot that starts at 09:00

    assert one.tick_scheduler() == 1
    assert two.tick_scheduler() == 0
    assert Worker(jobs_db, settings, clock, registry=registry).tick_scheduler() == 0
    clock.advance(timedelta(minutes=3))
    assert (one.tick_scheduler(), two.tick_scheduler()) == (0, 0)
    clock.advance(timedelta(minutes=1))  # 09:05, the next slot
    assert (two.tick_scheduler(), one.tick_scheduler()) == (1, 0)

    with jobs_db.transaction() as session:
        jobs = sorted(list_jobs(session, name="tests.record"), key=lambda j: j.run_at)
        assert [(j.run_at, j.dedup_key) for j in jobs] == [
            (datetime(2026, 11, 22, 9, 0, tzinfo=UTC), "tests.record@2026-11-22T09:00:00+00:00"),
            (datetime(2026, 11, 22, 9, 5, tzinfo=UTC), "tests.record@2026-11-22T09:05:00+00:00"),
        ]
    assert one.run_once()
    assert two.run_once()
    assert not one.run_once()
    assert len(effects(jobs_db)) == 2


def test_slot_start() -> None:
    now = datetime(2026, 11, 22, 9, 7, 30, tzinfo=UTC)
    assert slot_start(now, timedelta(minutes=5)) == datetime(2026, 11, 22, 9, 5, tzinfo=UTC)
    assert slot_start(now, timedelta(days=1)) == datetime(2026, 11, 22, tzinfo=UTC)


def test_backoff_doubles_within_jitter_and_is_capped(
    database: Database, settings: Settings
) -> None:
    settings = settings.model_copy(
        update={"job_backoff_base_seconds": 10.0, "job_backoff_max_seconds": 60.0}
    )
    worker = Worker(database, settings, rng=random.Random(1))
    for attempt, full in [(1, 10), (2, 20), (3, 40), (4, 60), (10_000, 60)]:
        for _ in range(20):
            assert full / 2 <= worker.backoff(attempt).total_seconds() <= full


def test_describe_error_keeps_sql_parameters_and_passwords_out() -> None:
    statement_error = IntegrityError(
        "INSERT INTO cases (url) VALUES (?)", ("http://secret.example/",), Exception("UNIQUE")
    )
    assert describe_error(statement_error) == "IntegrityError: UNIQUE"
    leaked = ConnectionError("cannot reach postgresql://takedown:hunter2@db:5432/takedown")
    assert (
        describe_error(leaked) == "ConnectionError: cannot reach postgresql://***@db:5432/takedown"
    )
    assert describe_error(KeyError()) == "KeyError"
    long = describe_error(ValueError("x" * 5000))
    assert len(long) == LAST_ERROR_MAX_CHARS
    assert long.endswith("…")
