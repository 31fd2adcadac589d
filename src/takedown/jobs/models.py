"""Models of the jobs domain: the durable job queue's one table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, Timestamped, UUIDPrimaryKey, enum_column

# The error a job keeps is for an operator to read, not a log archive.
LAST_ERROR_MAX_CHARS = 2000


class JobStatus(StrEnum):
    """Where a job is in its life. The value is what the database stores; never rename one."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"

    @property
    def label(self) -> str:
        """The name shown to people."""
        return _STATUS_LABELS[self]


_STATUS_LABELS: dict[JobStatus, str] = {
    JobStatus.QUEUED: "Queued",
    JobStatus.RUNNING: "Running",
    JobStatus.SUCCEEDED: "Succeeded",
    JobStatus.FAILED: "Failed, will retry",
    JobStatus.DEAD: "Gave up",
}


class Job(UUIDPrimaryKey, Timestamped, Base):
    """A unit of background work that outlives the process that asked for it.

    A job names its handler (``<domain>.<verb>``, e.g. ``notices.send``) and carries a payload
    of ids and plain values; the handler reloads whatever state it needs from those ids. A job
    is enqueued in the same transaction as the change that causes it, runs at or after
    ``run_at`` in a worker, and is retried with backoff until it succeeds or has used
    ``max_attempts`` attempts, when it is *dead*. While a worker runs it, the job is *locked*
    by that worker's attempt token until ``locked_until`` (the lease); a job whose lease ran out
    belonged to a worker that died and is claimed again by another.

    ``created_at``/``updated_at`` are wall-clock bookkeeping; the scheduling columns
    (``run_at``, ``locked_until``, ``started_at``, ``finished_at``) follow the worker's clock.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim query: due jobs by status and run_at, in priority order.
        Index("ix_jobs_claim", "status", "run_at", "priority"),
    )

    name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status"), default=JobStatus.QUEUED
    )
    # Lower runs first.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # None: the handler's own limit, else the ``job_max_attempts`` setting. Enqueuers need not
    # know the handler, so the limit is resolved by the worker that runs the job.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # "<worker id>/<attempt token>": a fresh token per claim, so a worker that lost its lease
    # can never write over the attempt that replaced it.
    locked_by: Mapped[str | None] = mapped_column(String(200))
    locked_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # At most one job ever per key, e.g. one scheduler slot of a periodic job.
    dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    def __repr__(self) -> str:
        return f"<Job {self.name} {self.id} {self.status.value} attempt {self.attempts}>"
