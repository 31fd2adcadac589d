"""Report intake over the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from takedown.auth.principal import Permission, Principal
from takedown.errors import Forbidden, PayloadTooLarge
from takedown.intake import service
from takedown.intake.schemas import BulkIn, BulkItemOut, BulkOut, ReportIn, ReportOut
from takedown.web.deps import Caller, State, Tx, client_address, json_body, require

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], dependencies=[Depends(json_body)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReportOut)
def submit_report(
    body: ReportIn, request: Request, caller: Caller, session: Tx, state: State
) -> ReportOut:
    """Report one URL.

    With `Authorization: Bearer <API key>` the report carries your organization and its
    priority. Without a key it is an anonymous public report, exactly like the web form:
    rate limited per client, and nothing about the client is stored.
    """
    if caller.kind == "public":
        state.public_limiter.hit(client_address(request))
    elif not caller.can(Permission.REPORTS_WRITE):
        raise Forbidden("this key may not submit reports (scope 'reports:write')")
    now = state.clock.now()
    result = service.submit_one(session, state.settings, caller, body, now=now)
    assert result.report_id
    assert result.reference
    assert result.case_id
    return ReportOut(
        report_id=result.report_id,
        reference=result.reference,
        case_id=result.case_id,
        case_created=result.status == "accepted",
        received_at=now,
    )


@router.post("/bulk", response_model=BulkOut)
def submit_bulk(
    body: BulkIn,
    session: Tx,
    state: State,
    caller: Annotated[Principal, Depends(require(Permission.REPORTS_WRITE))],
) -> BulkOut:
    """Report many URLs at once (API keys and staff only).

    Each item gets its own result, in the order given: `accepted` (a new case),
    `duplicate` (stored, attached to the existing case `case_id`) or `rejected` with the
    reason. Good items are stored even when others are rejected.
    """
    limit = state.settings.bulk_max_items
    if len(body.reports) > limit:
        raise PayloadTooLarge(f"at most {limit} reports per bulk request")
    results = service.submit(session, state.settings, caller, body.reports, now=state.clock.now())
    items = [BulkItemOut.model_validate(r, from_attributes=True) for r in results]
    counts = {s: sum(1 for r in results if r.status == s) for s in ("accepted", "duplicate")}
    return BulkOut(
        accepted=counts["accepted"],
        duplicate=counts["duplicate"],
        rejected=len(results) - counts["accepted"] - counts["duplicate"],
        results=items,
    )
