"""Cases over the JSON API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.assessment import service as assessment
from takedown.auth.principal import Permission, Principal
from takedown.cases import service, views
from takedown.cases.models import CaseState, Priority
from takedown.cases.schemas import (
    AssessmentIn,
    CaseDetailOut,
    CaseListOut,
    CloseIn,
    ReporterCaseList,
    ReporterCaseView,
)
from takedown.errors import Conflict
from takedown.web.deps import AppState, State, Tx, json_body, require
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


@router.post(
    "/{case_id}/assessment", response_model=CaseDetailOut, dependencies=[Depends(json_body)]
)
def assess_case(
    case_id: uuid.UUID,
    body: AssessmentIn,
    caller: Annotated[Principal, Depends(require(Permission.CASES_ASSESS))],
    session: Tx,
    state: State,
) -> CaseDetailOut:
    """Record the analyst's verdict on a case awaiting assessment. A decision that needs a
    second person (four eyes) is refused here with 409: it is made in the console, where the
    second person sees it."""
    _check_four_eyes(session, case_id, body.verdict, state)
    case = service.assess(
        session, case_id, body.verdict, caller, now=state.clock.now(), note=body.note
    )
    return views.staff_detail(session, case, caller)


def _check_four_eyes(session: Session, case_id: uuid.UUID, verdict: str, state: AppState) -> None:
    target = service.VERDICTS.get(verdict)
    if target is None:
        return  # service.assess explains the bad verdict
    case = service.get_case(session, case_id)
    settings = runtime.effective(session, state.settings)
    if assessment.pending_approval(session, case_id) is not None:
        raise Conflict("a decision on this case waits for a second person (console: Four eyes)")
    needed = assessment.four_eyes_needed(session, case, target, settings)
    if needed:
        raise Conflict(
            f"this decision needs a second person ({', '.join(needed)}): record it in the "
            "console, where another person approves it"
        )


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
