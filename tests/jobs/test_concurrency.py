"""Several workers against one queue: every job runs exactly once.

On PostgreSQL the workers claim side by side (``FOR UPDATE SKIP LOCKED``); on SQLite
``BEGIN IMMEDIATE`` makes them take turns. Both must give each job to one worker only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.registry import HandlerRegistry, JobContext, JobHandler
from takedown.jobs.service import enqueue
from takedown.jobs.worker import Worker
from tests.jobs import handlers
from tests.jobs.support import effects

WORKERS = 4
JOBS = 40


def test_several_workers_run_every_job_exactly_once(
    committed_jobs: Database, settings: Settings
) -> None:
    calls: Counter[uuid.UUID] = Counter()
    counting = threading.Lock()

    def record(ctx: JobContext, payload: dict[str, Any]) -> None:
        # Counts runs, not only committed effects: a job claimed twice whose second run is
        # rolled back (lost lease) would still be a double claim.
        with counting:
            calls[ctx.job_id] += 1
        handlers.record_effect(ctx, payload)

    registry = HandlerRegistry()
    registry.register(JobHandler("tests.record", record))
    # Every worker also ticks the scheduler at the same moment: still one job for the slot.
    registry.register(JobHandler("tests.tick", record, every=timedelta(days=1)))
    with committed_jobs.transaction() as session:
        for n in range(JOBS):
            enqueue(session, "tests.record", {"label": f"job {n}"})
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        worker = Worker(committed_jobs, settings, worker_id=f"w{n}", registry=registry)
        deadline = time.monotonic() + 60
        try:
            start.wait(10)
            worker.tick_scheduler()
            while worker.run_once() and time.monotonic() < deadline:
                pass
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    with committed_jobs.transaction() as session:
        jobs = session.scalars(select(Job)).all()
        assert len(jobs) == JOBS + 1
        assert {(job.status, job.attempts) for job in jobs} == {(JobStatus.SUCCEEDED, 1)}
        ids = {job.id for job in jobs}
    assert calls == dict.fromkeys(ids, 1)
    committed_effects = Counter(job_id for job_id, _, _ in effects(committed_jobs))
    assert committed_effects == {str(job_id): 1 for job_id in ids}
