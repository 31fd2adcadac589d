"""Notices over the JSON API: organizations answer theirs, staff follow a case's notices.

An organization's key (scope ``notices:answer``) sees and answers only the notices sent to its
own organization; any other reference is a 404, the same as one that does not exist, so
references cannot be probed. Staff read a case's notices and record answers that came by
e-mail or telephone.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from takedown.auth.principal import Permission, Principal
from takedown.cases import service as cases
from takedown.cases.visibility import check_staff
from takedown.errors import NotFound
from takedown.notices import answers
from takedown.notices import service as notices
from takedown.notices.schemas import (
    AnswerIn,
    CaseNoticeListOut,
    CaseNoticeOut,
    OrgNoticeOut,
    StaffAnswerOut,
)
from takedown.web.deps import State, Tx, json_body, require

router = APIRouter(tags=["notices"])
Answerer = Annotated[Principal, Depends(require(Permission.NOTICES_ANSWER))]
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
Assessor = Annotated[Principal, Depends(require(Permission.CASES_ASSESS))]


@router.get("/api/v1/notices/{reference}", response_model=OrgNoticeOut)
def get_notice(reference: str, caller: Answerer, session: Tx, state: State) -> OrgNoticeOut:
    """A notice sent to your organization: what it asks, the URLs and hashes, the answers."""
    notice = answers.org_notice(session, reference, caller)
    return OrgNoticeOut.of(answers.notice_view(session, notice, state.settings))


@router.post(
    "/api/v1/notices/{reference}/answer",
    response_model=OrgNoticeOut,
    dependencies=[Depends(json_body)],
)
def answer_notice(
    reference: str, body: AnswerIn, caller: Answerer, session: Tx, state: State
) -> OrgNoticeOut:
    """Answer a notice sent to your organization: ``acknowledged``, ``removed``,
    ``cannot_act`` or ``dispute`` (the last two with a ``reason``).

    "Removed" is verified: the content is re-checked now, and the case counts as removed only
    when the re-check finds it gone.
    """
    notice = answers.org_notice(session, reference, caller)
    answers.record_answer(
        session,
        notice,
        body.kind,
        reason=body.reason,
        via="api",
        actor=caller,
        now=state.clock.now(),
    )
    return OrgNoticeOut.of(answers.notice_view(session, notice, state.settings))


@router.get("/api/v1/cases/{case_id}/notices", response_model=CaseNoticeListOut)
def case_notices(case_id: uuid.UUID, caller: Reader, session: Tx) -> CaseNoticeListOut:
    """A case's notices, oldest first, with delivery state and answers (staff)."""
    check_staff(case_id, caller)
    cases.get_case(session, case_id)
    by_notice = answers.case_answers(session, case_id)
    return CaseNoticeListOut(
        items=[
            CaseNoticeOut.of(n, by_notice.get(n.id, []))
            for n in notices.case_notices(session, case_id)
        ]
    )


@router.post(
    "/api/v1/notices/{reference}/answers",
    response_model=StaffAnswerOut,
    status_code=201,
    dependencies=[Depends(json_body)],
)
def record_answer(
    reference: str, body: AnswerIn, caller: Assessor, session: Tx, state: State
) -> StaffAnswerOut:
    """Record an answer that came by e-mail or telephone (staff); the timeline names you."""
    if caller.kind == "api_key":
        raise NotFound(f"no notice {reference.strip()[:40]!r}")
    notice = notices.by_reference(session, reference)
    row = answers.record_answer(
        session,
        notice,
        body.kind,
        reason=body.reason,
        via="staff",
        actor=caller,
        now=state.clock.now(),
    )
    return StaffAnswerOut.model_validate(row)
