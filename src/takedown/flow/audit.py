"""The audit log's jobs: chaining new records, and hourly signed checkpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from takedown.audit import checkpoints, keys, service
from takedown.jobs.registry import JobContext, job_handler

CHAIN_JOB = "audit.chain"
CHECKPOINT_JOB = "audit.checkpoint"


# Every 15 s: the window in which a stored record is not chained yet.
@job_handler(CHAIN_JOB, every=timedelta(seconds=15), timeout=timedelta(minutes=5))
def chain(ctx: JobContext, payload: dict[str, Any]) -> None:
    service.chain_all(ctx.session, keys.chain_key(ctx.settings))


@job_handler(CHECKPOINT_JOB, every=timedelta(hours=1), timeout=timedelta(minutes=30))
def checkpoint(ctx: JobContext, payload: dict[str, Any]) -> None:
    taken = checkpoints.take(ctx.session, keys.chain_key(ctx.settings), ctx.clock.now())
    checkpoints.write(taken, keys.checkpoint_key(ctx.settings), ctx.settings.audit_checkpoints)
