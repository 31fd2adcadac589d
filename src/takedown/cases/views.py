"""What each caller sees of cases: the one place the API asks.

Staff (users with ``cases:read``: analysts, supervisors, police users, admins) see the whole
case: priority, every report, the items, the timeline with its notes and names. Every
organization's API key gets the reporter's view (``takedown.cases.reporter_view``), only for
the cases it reported: police forces' keys too, since police deconflict and hold as staff
users, and a key is only the channel their reports come through.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field
from sqlalchemy.orm import Session

from takedown.auth.principal import Principal
from takedown.cases import reporter_view, service, visibility
from takedown.cases.models import Case, CaseState, Priority
from takedown.cases.schemas import (
    CaseDetailOut,
    CaseEventOut,
    CaseItemOut,
    CaseListOut,
    CaseOut,
    CaseReportOut,
    ReporterCaseList,
    ReporterCaseView,
)
from takedown.errors import NotFound, ValidationFailed

# The response types of the read routes, told apart by their ``view`` member.
CaseView = Annotated[CaseDetailOut | ReporterCaseView, Field(discriminator="view")]
CaseListView = Annotated[CaseListOut | ReporterCaseList, Field(discriminator="view")]


def case_view(
    session: Session, case_id: uuid.UUID, caller: Principal
) -> CaseDetailOut | ReporterCaseView:
    """One case as ``caller`` may see it; 404 for a key whose organization did not report it,
    the same answer as for a case that does not exist."""
    if not visibility.is_reporter(caller):
        return staff_detail(session, service.get_case(session, case_id), caller)
    found = reporter_view.views(session, _org(caller, case_id), [case_id])
    if not found:
        raise NotFound(f"no case {case_id}")
    return found[0]


def case_list(
    session: Session,
    caller: Principal,
    *,
    state: CaseState | None,
    priority: Priority | None,
    limit: int,
    offset: int,
) -> CaseListOut | ReporterCaseList:
    """The cases ``caller`` may see: staff most urgent first, a key its own newest first."""
    if not visibility.is_reporter(caller):
        rows, total = service.list_cases(
            session, caller, state=state, priority=priority, limit=limit, offset=offset
        )
        return CaseListOut(total=total, items=[CaseOut.model_validate(c) for c in rows])
    if priority is not None or state is not None:
        # Filtering by priority would sort out the cases police reported; the internal state
        # tells a closed case from one still waiting. A key reads the public status instead.
        raise ValidationFailed(
            "API keys cannot filter by 'priority' or 'state'; each case's 'status' says how "
            "far it got"
        )
    if caller.org_id is None:
        return ReporterCaseList(total=0, items=[])
    return reporter_view.page(session, caller.org_id, limit=limit, offset=offset)


def staff_detail(session: Session, case: Case, caller: Principal) -> CaseDetailOut:
    """The whole case: for staff only (the assessment and closing routes answer with it)."""
    reports = visibility.visible_reports(session, case.id, caller)
    return CaseDetailOut(
        **CaseOut.model_validate(case).model_dump(),
        reports=[CaseReportOut.model_validate(r) for r in reports],
        items=[CaseItemOut.model_validate(i) for i in service.items(session, case.id)],
        timeline=[
            CaseEventOut.model_validate(e, from_attributes=True)
            for e in service.timeline(session, case, reports)
        ],
    )


def _org(caller: Principal, case_id: uuid.UUID) -> uuid.UUID:
    if caller.org_id is None:
        raise NotFound(f"no case {case_id}")
    return caller.org_id
