"""Traces over the JSON API: what a case's latest trace found, and tracing on demand."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from takedown.auth.principal import Permission, Principal
from takedown.cases import service as cases
from takedown.cases.visibility import check_staff
from takedown.errors import NotFound
from takedown.tracing import service
from takedown.tracing.schemas import TraceData, TraceOut, TraceRequestIn, TraceRequestOut
from takedown.web.deps import Tx, json_body, require

router = APIRouter(prefix="/api/v1/cases", tags=["tracing"])


@router.get("/{case_id}/trace", response_model=TraceOut)
def get_trace(
    case_id: uuid.UUID,
    caller: Annotated[Principal, Depends(require(Permission.CASES_READ))],
    session: Tx,
) -> TraceOut:
    """The case's latest trace: addresses, networks, organizations, CDN, registrar, evidence."""
    check_staff(case_id, caller)
    cases.get_case(session, case_id)
    trace = service.latest_trace(session, case_id)
    if trace is None:
        raise NotFound(f"case {case_id} has not been traced yet")
    return TraceOut(
        id=trace.id,
        status=trace.status,
        host=trace.host,
        traced_at=trace.traced_at,
        attempt=trace.attempt,
        countries=[c for c in trace.countries.split(",") if c],
        summary=trace.summary,
        data=TraceData.model_validate(trace.data),
        evidence=trace.evidence,
    )


@router.post(
    "/{case_id}/trace",
    response_model=TraceRequestOut,
    status_code=202,
    dependencies=[Depends(json_body)],
)
def trace_again(
    case_id: uuid.UUID,
    body: TraceRequestIn,
    caller: Annotated[Principal, Depends(require(Permission.CASES_ASSESS))],
    session: Tx,
) -> TraceRequestOut:
    """Trace the case again (hosts move), optionally with origin addresses behind its CDN.

    The trace runs as a job; the case's route is decided again from the new trace.
    """
    check_staff(case_id, caller)
    cases.get_case(session, case_id)
    job_id = service.request_trace(session, case_id, [str(ip) for ip in body.origin])
    return TraceRequestOut(job_id=job_id)
