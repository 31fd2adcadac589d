"""Police deconfliction over the JSON API: the queue, clearing a case, holds.

Acting (clearing, placing and releasing holds, the queue) needs ``police:act``: police users
and admins. Reading a case's holds needs ``cases:read`` and a staff session: analysts and
supervisors must see why a case's notices are paused. Organizations' API keys never see
holds (the same 404 as for an unknown case): an investigation is not theirs to know.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from takedown.auth.principal import Permission, Principal
from takedown.cases import service as cases
from takedown.cases.visibility import check_staff
from takedown.police import service
from takedown.police.schemas import (
    ClearIn,
    ClearOut,
    HoldIn,
    HoldListOut,
    HoldOut,
    PoliceQueueItemOut,
    PoliceQueueOut,
    ReleaseIn,
)
from takedown.routing.schemas import RouteStepOut
from takedown.web.deps import State, Tx, json_body, require

router = APIRouter(tags=["police"])
Police = Annotated[Principal, Depends(require(Permission.POLICE_ACT))]
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]


@router.get("/api/v1/police/queue", response_model=PoliceQueueOut)
def police_queue(caller: Police, session: Tx, state: State) -> PoliceQueueOut:
    """Cases waiting for police to clear or hold them, the longest waiting first; ``until`` is
    when the wait runs out and the rule's ``on_timeout`` applies (proceed, or remind)."""
    now = state.clock.now()
    items = [
        PoliceQueueItemOut(
            case_id=w.case.id,
            url=w.case.url,
            host=w.case.host,
            state=w.case.state,
            priority=w.case.priority,
            step_id=w.step.id,
            police_org=w.step.org_name,
            waiting_since=w.waiting_since,
            until=w.due_at,
            on_timeout=w.on_timeout,
            reminders=w.reminders,
            explanation=w.route.explanation,
            hold=HoldOut.of(w.hold, now) if w.hold else None,
        )
        for w in service.police_waits(session, now)
    ]
    return PoliceQueueOut(total=len(items), items=items)


@router.post(
    "/api/v1/cases/{case_id}/police/clear",
    response_model=ClearOut,
    dependencies=[Depends(json_body)],
    tags=["cases"],
)
def clear_case(
    case_id: uuid.UUID, body: ClearIn, caller: Police, session: Tx, state: State
) -> ClearOut:
    """Police see no objection: the notices waiting for them start. 409 if the case is not
    waiting for police, or is on hold (release the hold instead)."""
    check_staff(case_id, caller)
    case = cases.get_case(session, case_id)
    started = service.clear(
        session, case, caller, settings=state.settings, now=state.clock.now(), note=body.note
    )
    return ClearOut(case_id=case.id, started=[RouteStepOut.model_validate(s) for s in started])


@router.post(
    "/api/v1/cases/{case_id}/holds",
    response_model=HoldOut,
    status_code=201,
    dependencies=[Depends(json_body)],
    tags=["cases"],
)
def place_hold(
    case_id: uuid.UUID, body: HoldIn, caller: Police, session: Tx, state: State
) -> HoldOut:
    """Hold the case's notices and escalations until ``until`` (at most a year ahead), with a
    reason; re-checks go on. With ``preserve_evidence`` the notice asks the host to preserve
    evidence when it goes. The hold ends by itself at ``until``. 422 if ``until`` has no
    timezone, is not ahead or is more than a year ahead; 409 if the case is closed."""
    check_staff(case_id, caller)
    case = cases.get_case(session, case_id)
    now = state.clock.now()
    hold = service.place_hold(
        session,
        case,
        caller,
        until=body.until,
        reason=body.reason,
        preserve_evidence=body.preserve_evidence,
        settings=state.settings,
        now=now,
    )
    return HoldOut.of(hold, now)


@router.get("/api/v1/cases/{case_id}/holds", response_model=HoldListOut, tags=["cases"])
def list_holds(case_id: uuid.UUID, caller: Reader, session: Tx, state: State) -> HoldListOut:
    """Every hold placed on the case, oldest first (staff: police, analysts, supervisors)."""
    check_staff(case_id, caller)
    cases.get_case(session, case_id)
    now = state.clock.now()
    return HoldListOut(items=[HoldOut.of(h, now) for h in service.case_holds(session, case_id)])


@router.post(
    "/api/v1/holds/{hold_id}/release", response_model=HoldOut, dependencies=[Depends(json_body)]
)
def release_hold(
    hold_id: uuid.UUID, body: ReleaseIn, caller: Police, session: Tx, state: State
) -> HoldOut:
    """End a hold now. With no other hold standing, police have had their say: their step is
    done and the case's notices go, including those the hold paused. 409 if released already."""
    now = state.clock.now()
    hold = service.release_hold(
        session,
        service.get_hold(session, hold_id),
        caller,
        settings=state.settings,
        now=now,
        note=body.note,
    )
    return HoldOut.of(hold, now)
