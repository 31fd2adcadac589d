"""Cases over the JSON API: reading them, and closing them.

Assessing a case is ``takedown.assessment.api``'s (``POST /api/v1/cases/{id}/assessment``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from takedown.auth.principal import Permission, Principal
from takedown.cases import service, views
from takedown.cases.models import CaseState, Priority
from takedown.cases.schemas import (
    CaseDetailOut,
    CaseListOut,
    CloseIn,
    ReporterCaseList,
    ReporterCaseView,
)
from takedown.web.deps import State, Tx, json_body, require
from takedown.web.params import Offset

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]


@router.get("", response_model=views.CaseListView)
def list_cases(
    caller: Reader,
    session: Tx,
    state: CaseState | None = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> CaseListOut | ReporterCaseList:
    """Staff: cases, most urgent first (``view: "staff"``). API keys: only the cases their
    organization reported, its most recent report first, in the reporter's view (``view:
    "reporter"``); ``state`` and ``priority`` are staff filters (422 with a key)."""
    return views.case_list(
        session, caller, state=state, priority=priority, limit=limit, offset=offset
    )


@router.get("/{case_id}", response_model=views.CaseView)
def get_case(case_id: uuid.UUID, caller: Reader, session: Tx) -> CaseDetailOut | ReporterCaseView:
    """Staff: the whole case with every report, its items and its timeline. API keys: the
    reporter's view of a case their organization reported (their own reports and the public
    status); 404 for any other case, as for one that does not exist."""
    return views.case_view(session, case_id, caller)


@router.post("/{case_id}/close", response_model=CaseDetailOut, dependencies=[Depends(json_body)])
def close_case(
    case_id: uuid.UUID,
    body: CloseIn,
    caller: Annotated[Principal, Depends(require(Permission.CASES_SUPERVISE))],
    session: Tx,
    state: State,
) -> CaseDetailOut:
    """Close a case (supervisors)."""
    case = service.close(session, case_id, caller, now=state.clock.now(), note=body.note)
    return views.staff_detail(session, case, caller)
