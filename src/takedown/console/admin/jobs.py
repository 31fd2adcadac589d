"""Background jobs: the queue, and retrying a failed or dead job."""

from __future__ import annotations

import uuid
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown.console.admin.common import ADMIN, JobAdmin, JobReader
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import Conflict, NotFound
from takedown.jobs import service as jobs
from takedown.jobs.models import JobStatus
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
JOBS: Final = f"{ADMIN}/jobs"
JOBS_PAGE_SIZE: Final = 100


def _jobs_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    status: str = "",
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    chosen: JobStatus | None = None
    if status:
        try:
            chosen = JobStatus(status)
        except ValueError:
            message = f"unknown status {status!r}: showing every job"
    return view(
        request,
        "console/admin_jobs.html",
        viewer,
        {
            "jobs": jobs.list_jobs(session, status=chosen, limit=JOBS_PAGE_SIZE),
            "counts": jobs.queue_counts(session),
            "statuses": list(JobStatus),
            "status": chosen.value if chosen else "",
            "retryable": jobs.RETRYABLE,
            "message": message,
        },
        status_code=status_code,
    )


@router.get(JOBS, response_class=HTMLResponse)
def jobs_page(request: Request, viewer: JobReader, session: Tx, status: str = "") -> HTMLResponse:
    return _jobs_page(request, viewer, session, status=status)


@router.post(JOBS + "/{job_id}/retry", response_model=None)
def retry(
    job_id: uuid.UUID,
    request: Request,
    viewer: JobAdmin,
    session: Tx,
    state: State,
    status: Annotated[str, Form()] = "",
) -> Response:
    """Run a failed or dead job again now; back to the list as it was filtered."""
    try:
        with session.begin_nested():
            # The one audited retry, shared with the API and the overview's button.
            jobs.requeue(session, viewer.principal, job_id, now=state.clock.now())
    except (Conflict, NotFound) as exc:
        return _jobs_page(
            request,
            viewer,
            session,
            status=status,
            message=exc.message,
            status_code=exc.status_code,
        )
    back = f"{JOBS}?status={status}" if status in {s.value for s in JobStatus} else JOBS
    return redirect(back)
