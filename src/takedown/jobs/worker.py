"""The worker: claims due jobs, runs their handlers, records outcomes, schedules periodic jobs.

One attempt is three short steps, each in its own transaction:

1. *claim*: take the first due job and mark it running under a fresh attempt token, with a
   lease (``locked_until``). Due means queued or failed with ``run_at`` passed, or running with
   an expired lease, which is what a killed worker leaves behind.
2. *run*: the handler's work and the job's success commit together, and only while the token
   still holds the job. A worker that lost its lease rolls its work back, so the work of one
   job never commits twice.
3. *record*: after an exception the handler's work is rolled back; the error is stored and the
   job is requeued with backoff, or dead once its attempts are used up.

A heartbeat thread renews the lease while a handler runs, so only a dead (or timed-out)
attempt's lease expires. Several workers may share PostgreSQL: ``FOR UPDATE SKIP LOCKED`` hands
each a different job. On SQLite ``BEGIN IMMEDIATE`` serializes claims; one worker is the
supported setup there, as a running handler's writes hold the database's single write lock.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, cast

from sqlalchemy import CursorResult, Select, and_, or_, select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from takedown import metrics
from takedown.clock import Clock, SystemClock
from takedown.config import Settings
from takedown.db.errors import is_outage, is_unavailable
from takedown.db.session import Database
from takedown.jobs.models import LAST_ERROR_MAX_CHARS, Job, JobStatus
from takedown.jobs.registry import REGISTRY, HandlerRegistry, JobContext, JobHandler
from takedown.jobs.service import enqueue_unique

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Claims lost to a racing worker before giving up until the next poll.
_CLAIM_TRIES = 3
# How long a finished attempt waits for its heartbeat thread (blocked on a busy SQLite at worst).
_HEARTBEAT_JOIN_SECONDS = 5.0
# Delay before retrying a job that an outage interrupted (with jitter, so they spread out).
_OUTAGE_RETRY_SECONDS = 5.0
_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@")


@dataclass(frozen=True)
class Claim:
    """One attempt at a job, as its worker claimed it."""

    job_id: uuid.UUID
    name: str
    payload: dict[str, Any]
    attempt: int
    token: str
    max_attempts: int
    # The handler's timeout as an instant; the lease is never renewed past it.
    deadline: datetime | None


class LeaseLost(Exception):
    """Another worker took the job over while this one ran it."""


class Worker:
    """Runs due jobs one at a time against one database."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        clock: Clock | None = None,
        worker_id: str | None = None,
        *,
        registry: HandlerRegistry | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.worker_id = (worker_id or f"{socket.gethostname()}:{os.getpid()}")[:150]
        self.registry = registry or REGISTRY
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        # Jitter needs no cryptographic randomness; injectable so tests can pin it.
        self._rng = rng or random.Random()  # noqa: S311
        self._scheduled: dict[str, datetime] = {}
        # Set by run(): a worker asked to stop gives up waiting for the database.
        self._stopping = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Run jobs and the scheduler until ``stop`` is set; the current job always finishes."""
        logger.info("worker %s started; handlers: %s", self.worker_id, self.registry.names())
        if self.settings.metrics_token:
            metrics.configure(self.settings.metrics_directory)
        self._stopping = stop
        while not stop.is_set():
            ran = False
            try:
                self.tick_scheduler()
                ran = self.run_once()
            except Exception:
                # The database may be away for a moment (restart, failover): log and poll again
                # rather than end the worker. A claimed job's lease runs out and it is retried.
                logger.exception("worker %s: loop failed; polling again", self.worker_id)
            if not ran:
                stop.wait(self.settings.worker_poll_seconds)
        logger.info("worker %s stopped", self.worker_id)

    def run_once(self) -> bool:
        """Claim one due job, run it and record its outcome; False when nothing was due."""
        claim = self.claim()
        if claim is None:
            return False
        started = time.monotonic()
        handler = self.registry.get(claim.name)
        if handler is None:
            # A newer release may have enqueued it; failing with retries gives an upgraded
            # worker the chance to run it before it is dead.
            outcome = self._record_failure(
                claim, f"no handler is registered for job {claim.name!r} in this worker"
            )
        else:
            outcome = self._run(claim, handler)
        duration = time.monotonic() - started
        metrics.observe_job(claim.name, outcome == "succeeded", duration)
        logger.log(
            logging.INFO if outcome == "succeeded" else logging.WARNING,
            "job %s %s attempt %d: %s in %.3fs",
            claim.name,
            claim.job_id,
            claim.attempt,
            outcome,
            duration,
            extra={
                "job_name": claim.name,
                "job_id": str(claim.job_id),
                "job_attempt": claim.attempt,
                "job_outcome": outcome,
                "job_duration": duration,
            },
        )
        return True

    def claim(self) -> Claim | None:
        """Mark the first due job running under a fresh token, in a short transaction."""
        for _ in range(_CLAIM_TRIES):
            with self.database.transaction() as session:
                now = self.clock.now()
                job = session.scalars(_due(now)).first()
                if job is None:
                    return None
                limit = self._max_attempts(job)
                if job.status is JobStatus.RUNNING and job.attempts >= limit:
                    # A job that kills its worker every time (say, out of memory) would
                    # otherwise be claimed again for ever.
                    self._bury(session, job, now)
                    continue
                claim = self._take(session, job, now, limit)
                if claim is not None:
                    return claim
        return None

    def _take(self, session: Session, job: Job, now: datetime, limit: int) -> Claim | None:
        handler = self.registry.get(job.name)
        deadline = now + handler.timeout if handler and handler.timeout else None
        lease_end = min(now + self.lease, deadline) if deadline else now + self.lease
        token = f"{self.worker_id}/{uuid.uuid4().hex}"
        values: dict[str, Any] = {
            "status": JobStatus.RUNNING,
            "locked_by": token,
            "locked_until": lease_end,
            "attempts": job.attempts + 1,
            "started_at": now,
            "finished_at": None,
        }
        if job.status is JobStatus.RUNNING:
            values["last_error"] = (
                f"attempt {job.attempts} lost its lease (its worker stopped or it timed out)"
            )
        # The state we saw, as the condition of the write: SKIP LOCKED already keeps other
        # claimers away on PostgreSQL, this keeps the claim safe wherever row locks are not.
        seen = Job.locked_by.is_(None) if job.locked_by is None else Job.locked_by == job.locked_by
        taken = _update(session, Job.id == job.id, Job.status == job.status, seen, **values)
        if not taken:
            return None
        return Claim(job.id, job.name, dict(job.payload), job.attempts + 1, token, limit, deadline)

    def _bury(self, session: Session, job: Job, now: datetime) -> None:
        error = f"attempt {job.attempts} lost its lease and no attempts are left"
        if _update(
            session,
            Job.id == job.id,
            Job.locked_by == job.locked_by,
            status=JobStatus.DEAD,
            finished_at=now,
            locked_until=None,
            last_error=error,
        ):
            died = (job.id, job.name, job.payload, job.attempts, error)
            self.registry.job_died(session, self, *died)
        logger.warning("job %s %s: dead, %s", job.name, job.id, error)

    def _run(self, claim: Claim, handler: JobHandler) -> str:
        try:
            with _Heartbeat(self, claim):
                self._run_handler(claim, handler)
        except LeaseLost:
            return "lease lost to another worker; its work was rolled back"
        except Exception as exc:
            if is_outage(exc):
                # The database went away under the job: not the job's fault, so it costs
                # no attempt, and one line is enough for the log.
                logger.warning("job %s %s: database unreachable", claim.name, claim.job_id)
                return self._record_outage(claim, describe_error(exc))
            # The traceback goes to the log for operators; the job keeps one short line.
            logger.exception("job %s %s attempt %d raised", claim.name, claim.job_id, claim.attempt)
            return self._record_failure(claim, describe_error(exc))
        return "succeeded"

    def _run_handler(self, claim: Claim, handler: JobHandler) -> None:
        with self.database.transaction() as session:
            context = JobContext(
                session,
                self.settings,
                self.clock,
                claim.job_id,
                claim.attempt,
                claim.name,
                self.database,
            )
            handler.func(context, claim.payload)
            done = _update(
                session,
                *_held(claim),
                status=JobStatus.SUCCEEDED,
                finished_at=self.clock.now(),
                locked_until=None,
            )
            if not done:
                # Raising inside the transaction rolls the handler's work back with it.
                raise LeaseLost(f"job {claim.job_id} attempt {claim.attempt}")

    def _record_failure(self, claim: Claim, error: str) -> str:
        now = self.clock.now()
        values: dict[str, Any] = {"last_error": truncate(error), "locked_until": None}
        if claim.attempt >= claim.max_attempts:
            values |= {"status": JobStatus.DEAD, "finished_at": now}
            outcome = f"dead after {claim.attempt} attempts: {values['last_error']}"
        else:
            delay = self.backoff(claim.attempt)
            values |= {"status": JobStatus.FAILED, "run_at": now + delay}
            outcome = f"failed, retry in {delay.total_seconds():.0f}s: {values['last_error']}"
        recorded = self._record(claim, values)
        return outcome if recorded else "lease lost to another worker before its failure"

    def _record_outage(self, claim: Claim, error: str) -> str:
        """Requeue a job the database's absence interrupted, giving its attempt back."""
        delay = timedelta(seconds=_OUTAGE_RETRY_SECONDS * self._rng.uniform(0.5, 1.5))
        values: dict[str, Any] = {
            "last_error": truncate(f"database unreachable, retried: {error}"),
            "locked_until": None,
            "status": JobStatus.FAILED,
            "run_at": self.clock.now() + delay,
            "attempts": claim.attempt - 1,
        }
        recorded = self._record(claim, values)
        return "database unreachable, requeued" if recorded else "lease lost during an outage"

    def _record(self, claim: Claim, values: dict[str, Any]) -> bool:
        """Write an attempt's outcome, retrying while the database is away.

        Without the retries a job interrupted by an outage stayed ``running`` until its lease
        ran out (minutes), its case stuck with it. Retries stop when the lease would have
        ended anyway: then another worker takes the job over, as after a crash.
        """
        give_up = time.monotonic() + self.lease.total_seconds()
        pause = 0.5
        while True:
            try:
                with self.database.transaction() as session:
                    recorded = _update(session, *_held(claim), **values)
                    if recorded and values["status"] is JobStatus.DEAD:
                        # The handler's on_dead reaction, in the transaction that buries it.
                        self.registry.job_died(
                            session, self, claim.job_id, claim.name, claim.payload,
                            claim.attempt, values["last_error"],
                        )  # fmt: skip
                    return recorded
            except Exception as exc:
                if not is_unavailable(exc) or time.monotonic() + pause > give_up:
                    raise
                logger.warning("job %s: cannot record its outcome yet: %s", claim.job_id, exc)
                if self._stopping.wait(pause):
                    raise
                pause = min(pause * 2, 5.0)

    def renew_lease(self, claim: Claim) -> bool:
        """Extend the claim's lease; False once it is lost or its timeout has passed."""
        now = self.clock.now()
        until = now + self.lease
        if claim.deadline is not None:
            if now >= claim.deadline:
                logger.warning("job %s %s outran its timeout", claim.name, claim.job_id)
                return False
            until = min(until, claim.deadline)
        with self.database.transaction() as session:
            return _update(session, *_held(claim), locked_until=until)

    def backoff(self, attempt: int) -> timedelta:
        """The delay before retrying after failed ``attempt`` (1-based).

        Exponential and capped, then "equal jitter": at least half the delay, so retries still
        back off, and the rest random, so jobs that failed together (an outage) spread out.
        """
        base = self.settings.job_backoff_base_seconds
        # A bounded exponent: the delay is capped long before, and 2.0**1100 overflows.
        delay = min(base * 2.0 ** min(attempt - 1, 64), self.settings.job_backoff_max_seconds)
        return timedelta(seconds=delay * self._rng.uniform(0.5, 1.0))

    def tick_scheduler(self) -> int:
        """Enqueue each periodic job once for the current slot; return how many were new.

        The slot's start is part of the dedup key, so any number of workers ticking at once
        enqueue one job per slot between them. Slots missed while no worker ran are skipped.
        """
        now = self.clock.now()
        due = [
            (handler, slot_start(now, handler.every))
            for handler in self.registry.periodic()
            if handler.every is not None
        ]
        due = [(h, slot) for h, slot in due if self._scheduled.get(h.name) != slot]
        if not due:
            return 0
        created = 0
        with self.database.transaction() as session:
            for handler, slot in due:
                key = f"{handler.name}@{slot.isoformat()}"
                job = enqueue_unique(session, handler.name, dedup_key=key, run_at=slot)
                created += job is not None
        # Remembered after the commit only, so a failed tick is tried again next loop.
        self._scheduled.update((h.name, slot) for h, slot in due)
        return created

    def _max_attempts(self, job: Job) -> int:
        if job.max_attempts is not None:
            return job.max_attempts
        handler = self.registry.get(job.name)
        if handler is not None and handler.max_attempts is not None:
            return handler.max_attempts
        return self.settings.job_max_attempts


class _Heartbeat:
    """Renews a claim's lease every third of the lease while its handler runs.

    It uses its own connection: the handler's transaction is busy, and on PostgreSQL must not
    commit early just to keep the lease.
    """

    def __init__(self, worker: Worker, claim: Claim) -> None:
        self._worker = worker
        self._claim = claim
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{claim.job_id}", daemon=True
        )

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(_HEARTBEAT_JOIN_SECONDS)

    def _beat(self) -> None:
        interval = self._worker.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                if not self._worker.renew_lease(self._claim):
                    return
            except Exception:
                # A missed beat is not fatal while the lease lasts; the next one may succeed.
                logger.warning("job %s: lease renewal failed", self._claim.job_id, exc_info=True)


def _due(now: datetime) -> Select[Job]:
    return (
        select(Job)
        .where(
            or_(
                and_(Job.status.in_((JobStatus.QUEUED, JobStatus.FAILED)), Job.run_at <= now),
                and_(Job.status == JobStatus.RUNNING, Job.locked_until < now),
            )
        )
        .order_by(Job.priority, Job.run_at)
        .limit(1)
        # PostgreSQL: pass over jobs other workers are claiming instead of waiting for them.
        # SQLite has no row locks and SQLAlchemy leaves the clause out there.
        .with_for_update(skip_locked=True)
    )


def _held(claim: Claim) -> tuple[Any, ...]:
    """The condition that this claim still holds its job."""
    return (
        Job.id == claim.job_id,
        Job.locked_by == claim.token,
        Job.status == JobStatus.RUNNING,
    )


def _update(session: Session, *where: Any, **values: Any) -> bool:
    """A conditional UPDATE of one job; True when it matched."""
    statement = (
        update(Job).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    result = cast("CursorResult[Any]", session.execute(statement))
    return result.rowcount == 1


def slot_start(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length ``every`` that contains ``now``, counted from 1970."""
    return _EPOCH + every * ((now - _EPOCH) // every)


def describe_error(exc: BaseException) -> str:
    """The exception as one short line for the job row, without SQL, parameters or passwords."""
    # A database error's text includes its statement and parameters, which can hold case data.
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    message = str(cause).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return truncate(_CREDENTIALS.sub("***@", text))


def truncate(text: str, limit: int = LAST_ERROR_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
