"""Use cases of the jobs domain: enqueue, inspect and retry jobs.

Everything here works in the caller's session and never commits, so a job is enqueued in the
same transaction as the change that causes it: a confirmed case always gets its notice job,
and a rolled-back change never leaves one behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.clock import Clock, FrozenClock, SystemClock
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.registry import check_job_name

RETRYABLE = (JobStatus.FAILED, JobStatus.DEAD)
# Lower runs first. Later stages of the walk go before earlier ones, so that under a burst of
# reports each confirmed case reaches its notice before the next captures are started
# (depth first): the first notices leave in seconds, not after the whole burst is captured.
PRIORITY_NOTICE = -20
PRIORITY_TRACE = -10
LIST_MAX_LIMIT = 500


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    priority: int = 0,
    dedup_key: str | None = None,
    max_attempts: int | None = None,
    clock: Clock | None = None,
) -> Job:
    """Add a job to the caller's transaction; it becomes visible to workers on commit.

    The name is checked for shape only: the process enqueuing may not have imported the
    handler. With a ``dedup_key``, a job that already has that key (in any state, ever) is
    returned instead of adding a second one.
    """
    if dedup_key is None:
        job = Job(**_job_values(name, payload, run_at, priority, None, max_attempts, clock))
        # No flush: the id is made in Python, and bulk intake enqueues thousands per request.
        session.add(job)
        return job
    created = enqueue_unique(
        session,
        name,
        payload,
        dedup_key=dedup_key,
        run_at=run_at,
        priority=priority,
        max_attempts=max_attempts,
        clock=clock,
    )
    if created is not None:
        return created
    return session.scalars(select(Job).where(Job.dedup_key == dedup_key)).one()


def enqueue_many(
    session: Session,
    name: str,
    payloads: Sequence[dict[str, Any]],
    *,
    run_at: datetime | None = None,
    priority: int = 0,
    clock: Clock | None = None,
) -> list[uuid.UUID]:
    """Add one job per payload with a single set-based INSERT; returns their ids.

    For bulk work (10,000 new cases in one request), where building ORM objects for every
    job would cost more than the rest of the request.
    """
    now = run_at or (clock or SystemClock()).now()
    rows = [_job_values(name, p, now, priority, None, None, None) for p in payloads]
    if not rows:
        return []
    timestamps = {"created_at": now, "updated_at": now}
    session.execute(insert(Job), [row | timestamps for row in rows])
    return [row["id"] for row in rows]


def enqueue_unique(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    dedup_key: str,
    run_at: datetime | None = None,
    priority: int = 0,
    max_attempts: int | None = None,
    clock: Clock | None = None,
) -> Job | None:
    """Add a job unless one with ``dedup_key`` exists; return the new job or None.

    ``INSERT ... ON CONFLICT DO NOTHING`` rather than look-then-insert: two processes doing
    the same at once (two schedulers on one slot) then add one job between them, and the loser
    gets no error that would roll back the rest of its transaction.
    """
    values = _job_values(name, payload, run_at, priority, dedup_key, max_attempts, clock)
    dialect_insert = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    statement = (
        dialect_insert(Job)
        .values(values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        # RETURNING rather than rowcount, which drivers report differently for skipped rows.
        .returning(Job.id)
    )
    if session.execute(statement).scalar_one_or_none() is None:
        return None
    return session.get_one(Job, values["id"])


def _job_values(
    name: str,
    payload: dict[str, Any] | None,
    run_at: datetime | None,
    priority: int,
    dedup_key: str | None,
    max_attempts: int | None,
    clock: Clock | None,
) -> dict[str, Any]:
    check_job_name(name)
    payload = _checked_payload(payload)
    if run_at is not None and run_at.tzinfo is None:
        raise ValidationFailed("run_at must be timezone-aware")
    if max_attempts is not None and max_attempts < 1:
        raise ValidationFailed("max_attempts must be at least 1")
    if dedup_key is not None and not 0 < len(dedup_key) <= 255:
        raise ValidationFailed("dedup_key must have 1 to 255 characters")
    return {
        "id": uuid.uuid4(),
        "name": name,
        "payload": payload,
        "status": JobStatus.QUEUED,
        "priority": priority,
        "run_at": run_at or (clock or SystemClock()).now(),
        "attempts": 0,
        "max_attempts": max_attempts,
        "dedup_key": dedup_key,
    }


def _checked_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload as it will come back from the JSON column, or ValidationFailed.

    Checked here, where the caller can still fix it, rather than at commit or in the worker.
    """
    if payload is None:
        return {}
    if not isinstance(payload, dict) or not all(isinstance(k, str) for k in payload):
        raise ValidationFailed("a job payload is a dict with string keys")
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(
            f"a job payload holds ids and plain values only (str(uuid), not objects): {exc}"
        ) from exc
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def list_jobs(
    session: Session,
    *,
    status: JobStatus | None = None,
    name: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[Job]:
    """Jobs, newest first, optionally of one status and name."""
    if not 1 <= limit <= LIST_MAX_LIMIT or offset < 0:
        raise ValidationFailed(f"limit must be 1 to {LIST_MAX_LIMIT} and offset not negative")
    query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Job.status == JobStatus(status))
    if name is not None:
        query = query.where(Job.name == name)
    return session.scalars(query).all()


def get_job(session: Session, job_id: uuid.UUID) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def retry_job(session: Session, job_id: uuid.UUID, *, clock: Clock | None = None) -> Job:
    """Queue a failed or dead job to run now, with a fresh set of attempts.

    The last error stays until the next attempt's outcome replaces it.
    """
    job = get_job(session, job_id)
    now = (clock or SystemClock()).now()
    # Conditional, not read-then-write: a worker may claim a failed job meanwhile, and
    # requeueing a running job would let it run twice.
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status.in_(RETRYABLE))
        .values(
            status=JobStatus.QUEUED, run_at=now, attempts=0, locked_until=None, finished_at=None
        )
        .execution_options(synchronize_session=False)
    )
    result = cast("CursorResult[Any]", session.execute(statement))
    session.refresh(job)
    if result.rowcount != 1:
        raise Conflict(
            f"job {job_id} is {job.status.value}; only failed or dead jobs can be retried"
        )
    return job


def requeue(session: Session, actor: Principal, job_id: uuid.UUID, *, now: datetime) -> Job:
    """Retry a failed or dead job for a person, audited: what the API and the console call.

    A frozen clock at the request's time, so the job's ``run_at`` and the audit record agree.
    """
    job = retry_job(session, job_id, clock=FrozenClock(now))
    audit.record(session, actor, "job.retry", "job", job.id, at=now, details={"name": job.name})
    return job


def dead_jobs(session: Session, *, limit: int = 20) -> Sequence[Job]:
    """The jobs that gave up, most recently dead first: what supervisors need to look at."""
    query = (
        select(Job)
        .where(Job.status == JobStatus.DEAD)
        .order_by(Job.finished_at.desc(), Job.id)
        .limit(limit)
    )
    return session.scalars(query).all()


def queue_counts(session: Session) -> dict[str, int]:
    """How many jobs are in each status, every status present."""
    counts = dict.fromkeys((s.value for s in JobStatus), 0)
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    for status, count in rows:
        counts[JobStatus(status).value] = count
    return counts
