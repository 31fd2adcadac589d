"""Carry out a route: each step whose turn has come becomes a notice or a police wait.

``advance`` is called after a route is decided, when police clear a case, when a hold ends and
when a notice goes out; it is idempotent (a step moves past ``planned``/``waiting`` once).
A list step puts the case's URL on the URL list (``lists.entries``) and is done at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseState
from takedown.config import Settings
from takedown.jobs import service as jobs
from takedown.lists import entries
from takedown.notices import service as notices
from takedown.notices.models import NoticeKind
from takedown.orgs.models import Organization
from takedown.police.holds import active_hold
from takedown.routing.models import (
    BUILTIN_POLICE_WAIT_SECONDS,
    RouteStep,
    StepAction,
    StepStatus,
)
from takedown.routing.service import current_route, route_steps

POLICE_TIMEOUT_JOB = "police.timeout"
_NOTICE_KIND = {
    StepAction.NOTICE: NoticeKind.NOTICE,
    StepAction.FORWARD_TO_PARTNER: NoticeKind.FORWARD,
    StepAction.POLICE_REFERRAL: NoticeKind.POLICE_REFERRAL,
}


def advance(session: Session, case: Case, *, settings: Settings, now: datetime) -> list[RouteStep]:
    """Start every step of the case's current route that no longer waits; returns them.

    Nothing starts while a police hold is active: the hold pauses notices.
    """
    route = current_route(session, case.id)
    # A case no longer confirmed (reversed to not illegal, or closed) sends nothing more,
    # whoever clears it or whenever a hold or a police wait ends.
    if route is None or case.removed_at is not None or case.state is not CaseState.CONFIRMED:
        return []
    steps = list(route_steps(session, route.id))
    done = {s.seq for s in steps if s.status is StepStatus.DONE}
    held = active_hold(session, case.id, now) is not None
    started: list[RouteStep] = []
    for step in steps:
        if step.status not in (StepStatus.PLANNED, StepStatus.WAITING):
            continue
        if step.after_seq is not None and step.after_seq not in done:
            step.status = StepStatus.WAITING
            continue
        if held and step.action is not StepAction.POLICE_DECONFLICTION:
            continue
        started.append(step)
        if _start(session, case, step, settings=settings, now=now):
            done.add(step.seq)  # nothing left to do: it was done on an earlier route
    return started


def _start(
    session: Session, case: Case, step: RouteStep, *, settings: Settings, now: datetime
) -> bool:
    """Start a step; True when it is already done (police or this notice on an earlier route)."""
    step.status = StepStatus.IN_PROGRESS
    step.updated_at = now
    if step.action is StepAction.LIST_URL:
        entry = entries.list_case(
            session, case, actor=SYSTEM, reason=step.reason, now=now, settings=settings
        )
        step.status = StepStatus.DONE
        step.data = step.data | {"entry_id": str(entry.id) if entry else None}
        return True
    if step.action is StepAction.POLICE_DECONFLICTION:
        if _police_had_their_say(session, case, step):
            step.status = StepStatus.DONE
            return True
        wait = timedelta(seconds=int(step.data.get("wait_seconds", BUILTIN_POLICE_WAIT_SECONDS)))
        who = step.org_name or "police"
        cases.add_event(
            session,
            case,
            "police_deconfliction",
            f"Waiting for {who} to clear or hold the case, until {(now + wait).isoformat()}",
            actor="system",
            at=now,
            data={"step_id": str(step.id), "until": (now + wait).isoformat()},
        )
        jobs.enqueue(
            session,
            POLICE_TIMEOUT_JOB,
            {"case_id": str(case.id), "step_id": str(step.id)},
            run_at=now + wait,
        )
        return False
    kind = _NOTICE_KIND[step.action]
    name = step.org_name or "the hosting organization"
    earlier = notices.earlier_notice(session, case.id, kind, step.org_id, name)
    if earlier is not None:
        # The same organization already has this notice (the case was traced again).
        step.status = StepStatus.DONE
        step.data = step.data | {"notice": earlier.reference}
        return True
    org = session.get(Organization, step.org_id) if step.org_id else None
    notices.create_notice(
        session,
        case,
        kind=kind,
        org=org,
        org_name=name,
        country=step.country,
        settings=settings,
        now=now,
        step_id=step.id,
        fallback_email=step.data.get("abuse_email"),
    )
    return False


def _police_had_their_say(session: Session, case: Case, step: RouteStep) -> bool:
    """Whether police already cleared (or let time out) this case on an earlier route."""
    return (
        session.scalar(
            select(RouteStep.id)
            .where(
                RouteStep.case_id == case.id,
                RouteStep.id != step.id,
                RouteStep.action == StepAction.POLICE_DECONFLICTION,
                RouteStep.status == StepStatus.DONE,
            )
            .limit(1)
        )
        is not None
    )


def finish_step(session: Session, step_id: object, now: datetime) -> RouteStep | None:
    """Mark a step done (its notice went out, police cleared it)."""
    step = session.get(RouteStep, step_id)
    if step is not None and step.status is not StepStatus.SUPERSEDED:
        step.status = StepStatus.DONE
        step.updated_at = now
    return step
