"""Assessment over the JSON API: everything the console's assessment form and its Four eyes
page do, through the same functions.

- ``POST /api/v1/cases/{id}/assessment``: the decision with its classification, items, bank
  and whole host. ``classification.parse_form`` checks it as it checks the console form, and
  ``service.assess`` carries it out, or files it for a second person: then the answer is 202
  with the approval to decide.
- ``GET /api/v1/approvals`` (pending by default), ``GET /api/v1/approvals/{id}``, and
  ``POST /api/v1/approvals/{id}/approve`` or ``/reject``: ``approvals.approve`` /
  ``approvals.reject``, with the console's rules (nobody decides their own request; a
  rejection says why).

Whole-host entries waiting for a second person are decided through the lists API
(``/api/v1/lists/urls/entries/{id}/approve``), which owns their status.

A refusal changes nothing: the error leaves the request's transaction, which rolls back.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.assessment import approvals
from takedown.assessment import service as assessment
from takedown.assessment.classification import SCHEMES, FormErrors, parse_form
from takedown.assessment.models import Approval, ApprovalStatus
from takedown.assessment.schemas import (
    ApprovalList,
    ApprovalOut,
    AssessmentBody,
    AssessmentOut,
    DecisionNote,
    Outcome,
)
from takedown.auth.principal import Permission, Principal
from takedown.cases import service as cases
from takedown.cases import views
from takedown.errors import NotFound, ValidationFailed
from takedown.web.deps import State, Tx, json_body, require
from takedown.web.params import Offset

router = APIRouter(tags=["assessment"])
Assessor = Annotated[Principal, Depends(require(Permission.CASES_ASSESS))]
JSON: Final = [Depends(json_body)]
_OUTCOMES: Final = frozenset(get_args(Outcome))
_SCHEME_FIELDS: Final = frozenset(s.field for s in SCHEMES)


def refused(exc: FormErrors) -> ValidationFailed:
    """The form's field errors as a 422 whose ``errors`` locate each field in the body, as
    the API's own validation errors do (``web/problems.py``)."""
    errors = [
        {"loc": _loc(field), "msg": message, "type": "assessment"}
        for field, message in exc.errors.items()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
    return ValidationFailed(detail or "the assessment was refused", errors=errors)


def _loc(field: str) -> list[str]:
    if field in _SCHEME_FIELDS:
        return ["body", "classification", field]
    # "form": the form as a whole (the console's out-of-date form id).
    return ["body"] if field == "form" else ["body", field]


def _answer(
    session: Session,
    caller: Principal,
    kind: str,
    case_id: uuid.UUID | None,
    approval: Approval | None = None,
) -> AssessmentOut:
    assert kind in _OUTCOMES, kind
    case = cases.get_case(session, case_id) if case_id is not None else None
    return AssessmentOut.model_validate(
        {
            "outcome": kind,
            "case": views.staff_detail(session, case, caller) if case is not None else None,
            "approval": ApprovalOut.of(approvals.ApprovalRow.of(approval)) if approval else None,
        }
    )


_HELD: Final[dict[int | str, dict[str, Any]]] = {
    202: {
        "model": AssessmentOut,
        "description": "Held for a second person (four eyes): nothing is done until someone "
        "else approves the approval in the answer.",
    }
}


@router.post(
    "/api/v1/cases/{case_id}/assessment",
    response_model=AssessmentOut,
    responses=_HELD,
    dependencies=JSON,
    tags=["cases"],
)
def assess_case(
    case_id: uuid.UUID,
    body: AssessmentBody,
    caller: Assessor,
    session: Tx,
    state: State,
    response: Response,
) -> AssessmentOut:
    """An analyst's decision, as the console's assessment form records it: confirm, not
    illegal or a second opinion, on every item left to assess or one of them, with the
    classification in each scheme; on confirm, the items' hashes into a bank and the whole
    host onto the URL list. A decision that needs a second person (reversing an earlier one,
    or calling a police or trusted flagger's case not illegal, as configured) is not carried
    out: the answer is 202 with the approval, decided at ``/api/v1/approvals``."""
    settings = runtime.effective(session, state.settings)
    try:
        form = parse_form(
            body.as_form(),
            may_bank=caller.can(Permission.BANKS_WRITE),
            may_list_host=caller.can(Permission.LISTS_WRITE),
        )
        outcome = assessment.assess(
            session, case_id, form, caller, settings=settings, now=state.clock.now()
        )
    except FormErrors as exc:
        raise refused(exc) from exc
    approval = None
    if outcome.approval_id is not None:
        response.status_code = 202
        approval = session.get_one(Approval, outcome.approval_id)
    return _answer(session, caller, outcome.kind, outcome.case_id, approval)


@router.get("/api/v1/approvals", response_model=ApprovalList)
def list_approvals(
    caller: Assessor,
    session: Tx,
    status: ApprovalStatus = ApprovalStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> ApprovalList:
    """Decisions held for a second person: pending ones oldest first (they have waited
    longest), or, with ``status``, the approved or rejected ones, newest first."""
    rows, total = approvals.listed(session, status, limit=limit, offset=offset)
    return ApprovalList(total=total, items=[ApprovalOut.of(row) for row in rows])


@router.get("/api/v1/approvals/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: uuid.UUID, caller: Assessor, session: Tx) -> ApprovalOut:
    found = session.get(Approval, approval_id)
    if found is None:
        raise NotFound(f"no approval {approval_id}")
    return ApprovalOut.of(approvals.ApprovalRow.of(found))


@router.post(
    "/api/v1/approvals/{approval_id}/approve", response_model=AssessmentOut, dependencies=JSON
)
def approve(
    approval_id: uuid.UUID, body: DecisionNote, caller: Assessor, session: Tx, state: State
) -> AssessmentOut:
    """The second person agrees: the held decision is carried out now, checked again against
    the case as it is (409 if it has moved on). 403 for the person who asked for it."""
    settings = runtime.effective(session, state.settings)
    try:
        outcome = approvals.approve(
            session, approval_id, caller, note=body.note, settings=settings, now=state.clock.now()
        )
    except FormErrors as exc:
        raise refused(exc) from exc
    approval = session.get_one(Approval, approval_id)
    return _answer(session, caller, outcome.kind, outcome.case_id, approval)


@router.post(
    "/api/v1/approvals/{approval_id}/reject", response_model=AssessmentOut, dependencies=JSON
)
def reject(
    approval_id: uuid.UUID, body: DecisionNote, caller: Assessor, session: Tx, state: State
) -> AssessmentOut:
    """The second person disagrees, saying why in ``note`` (the first person reads it):
    nothing is carried out and the case is back in the queue. 403 for the person who asked."""
    try:
        approval = approvals.reject(
            session, approval_id, caller, note=body.note, now=state.clock.now()
        )
    except FormErrors as exc:
        raise refused(exc) from exc
    return _answer(session, caller, "rejected", approval.case_id, approval)
