"""Jobs over the JSON API: status and last error for supervisors, retry for those who manage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from takedown.auth.principal import Permission, Principal
from takedown.jobs import service
from takedown.jobs.models import JobStatus
from takedown.web.deps import State, Tx, require
from takedown.web.params import Offset

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Reader = Annotated[Principal, Depends(require(Permission.JOBS_READ))]


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    payload: dict[str, Any]
    status: JobStatus
    priority: int
    run_at: datetime
    attempts: int
    max_attempts: int | None
    last_error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class JobListOut(BaseModel):
    counts: dict[str, int]
    items: list[JobOut]


@router.get("", response_model=JobListOut)
def list_jobs(
    _: Reader,
    session: Tx,
    status: JobStatus | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> JobListOut:
    """Jobs, newest first, with how many are in each status."""
    rows = service.list_jobs(session, status=status, name=name, limit=limit, offset=offset)
    return JobListOut(
        counts=service.queue_counts(session), items=[JobOut.model_validate(j) for j in rows]
    )


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: uuid.UUID, _: Reader, session: Tx) -> JobOut:
    """One job: status, attempts and last error."""
    return JobOut.model_validate(service.get_job(session, job_id))


@router.post("/{job_id}/retry", response_model=JobOut)
def retry_job(
    job_id: uuid.UUID,
    principal: Annotated[Principal, Depends(require(Permission.JOBS_MANAGE))],
    session: Tx,
    state: State,
) -> JobOut:
    """Run a failed or dead job again now (audited, as in the console)."""
    job = service.requeue(session, principal, job_id, now=state.clock.now())
    return JobOut.model_validate(job)
