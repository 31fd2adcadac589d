"""Police deconfliction and holds: police see a case first, then clear it or hold it.

Where a case's route asks for it, a ``police_deconfliction`` step is ``in_progress`` and the
notices wait for it (``notices.steps``). Police then

- **clear** the case: the step is done and the notices start;
- **hold** it until a date (with a reason, optionally asking the host to preserve evidence):
  the step stays in progress and nothing but police steps start until the hold ends (it is
  released, or the ``police.hold_end`` job finds it expired); then the step is done (police
  had their say) and the notices start, including those the hold paused on their way out;
- or **do nothing**: the ``police.timeout`` job does what the rule said, proceed or remind.

A hold pauses notices and escalations, never the re-checks: monitoring goes on.

Hold reasons and clearing notes are kept on the hold and in the audit log, not on the case's
timeline: organizations that reported a case can read its timeline, and an investigation's
details are not theirs to know.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from takedown.audit import service as audit
from takedown.auth.principal import SYSTEM, Principal
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseState
from takedown.config import Settings
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.jobs import service as jobs
from takedown.notices import service as notices
from takedown.notices.steps import POLICE_TIMEOUT_JOB, advance, finish_step
from takedown.police.holds import active_hold
from takedown.police.models import Hold
from takedown.routing.models import (
    BUILTIN_POLICE_WAIT_SECONDS,
    PoliceTimeout,
    Route,
    RouteStep,
    StepAction,
    StepStatus,
)
from takedown.routing.service import current_route

HOLD_END_JOB = "police.hold_end"
# Police renew a hold rather than place one for ever: a forgotten hold would keep content
# online indefinitely.
MAX_HOLD = timedelta(days=365)
EXPIRED_NOTE = "hold expired"


@dataclass(frozen=True)
class PoliceWait:
    """A case waiting for police: its deconfliction step, since when, until when, any hold."""

    case: Case
    route: Route
    step: RouteStep
    waiting_since: datetime
    due_at: datetime
    hold: Hold | None

    @property
    def on_timeout(self) -> PoliceTimeout:
        return PoliceTimeout(self.step.data.get("on_timeout", PoliceTimeout.PROCEED.value))

    @property
    def reminders(self) -> int:
        return int(self.step.data.get("reminders", 0))


def _wait(step: RouteStep) -> timedelta:
    return timedelta(seconds=int(step.data.get("wait_seconds", BUILTIN_POLICE_WAIT_SECONDS)))


def due_at(step: RouteStep) -> datetime:
    """When the current wait ends: the first one, or the one the last reminder started."""
    due = step.data.get("due_at")
    return datetime.fromisoformat(due) if due else step.updated_at + _wait(step)


def _waiting(session: Session) -> list[tuple[Case, Route, RouteStep]]:
    """Cases with a police step in progress on their current route, one row per case."""
    # The case's newest route, as routing.service.current_route finds it.
    newest = aliased(Route)
    current = (
        select(newest.id)
        .where(newest.case_id == Case.id)
        .order_by(newest.decided_at.desc())
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Case, Route, RouteStep)
        .join(RouteStep, RouteStep.case_id == Case.id)
        .join(Route, Route.id == RouteStep.route_id)
        .where(
            RouteStep.action == StepAction.POLICE_DECONFLICTION,
            RouteStep.status == StepStatus.IN_PROGRESS,
            Route.id == current,
            # A reversed (not illegal) or closed case no longer waits for police.
            Case.state == CaseState.CONFIRMED,
        )
        .order_by(RouteStep.updated_at, Case.id, RouteStep.seq)
    ).all()
    found: dict[uuid.UUID, tuple[Case, Route, RouteStep]] = {}
    for case, route, step in rows:
        found.setdefault(case.id, (case, route, step))  # the first of two police steps
    return list(found.values())


def awaiting_police(session: Session) -> list[Case]:
    """Cases whose current route has a police deconfliction step in progress, oldest first."""
    return [case for case, _, _ in _waiting(session)]


def police_waits(session: Session, now: datetime) -> list[PoliceWait]:
    """What the police queue shows: every waiting case, the longest waiting first."""
    # A step's updated_at is set when it starts waiting and kept after (reminders included).
    return [
        PoliceWait(
            case, route, step, step.updated_at, due_at(step), active_hold(session, case.id, now)
        )
        for case, route, step in _waiting(session)
    ]


def police_steps(session: Session, case_id: uuid.UUID) -> list[RouteStep]:
    """The police steps in progress on the case's current route (earlier routes don't count)."""
    route = current_route(session, case_id)
    if route is None:
        return []
    return list(
        session.scalars(
            select(RouteStep)
            .where(
                RouteStep.route_id == route.id,
                RouteStep.action == StepAction.POLICE_DECONFLICTION,
                RouteStep.status == StepStatus.IN_PROGRESS,
            )
            .order_by(RouteStep.seq)
        )
    )


def clear(
    session: Session,
    case: Case,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
    note: str | None = None,
) -> list[RouteStep]:
    """Police see no objection: their step is done and the notices waiting for it start.

    Returns the steps that started. A held case is released, not cleared: clearing it would
    start nothing while the hold stands, and say the opposite of the hold.
    """
    steps = police_steps(session, case.id)
    if not steps:
        raise Conflict(f"case {case.id} is not waiting for police: there is nothing to clear")
    hold = active_hold(session, case.id, now)
    if hold is not None:
        raise Conflict(
            f"case {case.id} is on hold until {hold.until.isoformat()}: "
            f"release hold {hold.id} to let the notices go"
        )
    for step in steps:
        finish_step(session, step.id, now)
    ids = [str(s.id) for s in steps]
    cases.add_event(
        session,
        case,
        "police_cleared",
        f"Cleared by {actor.label}: notices may go",
        actor=actor.label,
        at=now,
        data={"step_ids": ids},
    )
    audit.record(
        session,
        actor,
        "police.clear",
        "case",
        case.id,
        at=now,
        details={"step_ids": ids},
        note=note,
    )
    return advance(session, case, settings=settings, now=now)


def _check_hold(until: datetime, reason: str, now: datetime) -> str:
    if until.tzinfo is None:
        raise ValidationFailed("until must carry a timezone, e.g. 2026-12-01T09:00:00+00:00")
    if until <= now:
        raise ValidationFailed(f"until must be in the future (now is {now.isoformat()})")
    if until > now + MAX_HOLD:
        raise ValidationFailed(f"a hold lasts at most {MAX_HOLD.days} days; place a new one later")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("a hold needs a reason")
    return reason


def place_hold(
    session: Session,
    case: Case,
    actor: Principal,
    *,
    until: datetime,
    reason: str,
    preserve_evidence: bool,
    settings: Settings,
    now: datetime,
) -> Hold:
    """Pause the case's notices until ``until`` (or release); the police step keeps waiting.

    With ``preserve_evidence`` the notice, when it goes, asks the host to preserve evidence.
    """
    reason = _check_hold(until, reason, now)
    if case.state is CaseState.CLOSED:
        raise Conflict(f"case {case.id} is closed: there is nothing to hold")
    hold = Hold(
        case_id=case.id,
        reason=reason,
        until=until,
        preserve_evidence=preserve_evidence,
        created_by=actor.label,
        created_at=now,
    )
    session.add(hold)
    session.flush()
    preserve = "; the host will be asked to preserve evidence" if preserve_evidence else ""
    details = {
        "hold_id": str(hold.id),
        "until": until.isoformat(),
        "preserve_evidence": preserve_evidence,
    }
    cases.add_event(
        session,
        case,
        "police_hold",
        f"Held by {actor.label} until {until.isoformat()}: notices wait{preserve}",
        actor=actor.label,
        at=now,
        data=details,
    )
    audit.record(
        session,
        actor,
        "police.hold",
        "hold",
        hold.id,
        at=now,
        details={"case_id": str(case.id), **details},
        note=reason,
    )
    jobs.enqueue_unique(
        session,
        HOLD_END_JOB,
        {"hold_id": str(hold.id)},
        dedup_key=f"{HOLD_END_JOB}:{hold.id}",
        run_at=until,
    )
    return hold


def release_hold(
    session: Session,
    hold: Hold,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
    note: str | None = None,
) -> Hold:
    """End a hold. When no other hold stands, police have had their say: their step is done,
    the waiting notices start and the notices the hold paused are queued again."""
    if hold.released_at is not None:
        raise Conflict(f"hold {hold.id} was released already ({hold.released_at.isoformat()})")
    case = cases.get_case(session, hold.case_id)
    hold.released_at = now
    hold.released_by = actor.label
    hold.release_note = note
    message = "Hold expired" if hold.until <= now else f"Hold released by {actor.label}"
    details = {"hold_id": str(hold.id), "until": hold.until.isoformat()}
    other = active_hold(session, case.id, now)
    if other is not None:
        message += f"; another hold stands until {other.until.isoformat()}"
    cases.add_event(
        session, case, "police_hold_released", message, actor=actor.label, at=now, data=details
    )
    audit.record(
        session,
        actor,
        "police.release",
        "hold",
        hold.id,
        at=now,
        details={"case_id": str(case.id), **details},
        note=note,
    )
    if other is None:
        for step in police_steps(session, case.id):
            finish_step(session, step.id, now)
        advance(session, case, settings=settings, now=now)
        notices.release_held(session, case.id, now)
    return hold


def police_timed_out(
    session: Session, step_id: uuid.UUID, *, settings: Settings, now: datetime
) -> str:
    """Police have not answered in time: proceed or remind, as the rule says.

    Returns what was done (``proceeded``, ``reminded``) or why nothing was (a stale job).
    Nothing happens to a step that is no longer waiting, belongs to a superseded route, or
    whose case is held: the hold's end decides then.
    """
    step = session.get(RouteStep, step_id)
    if step is None or step.status is not StepStatus.IN_PROGRESS:
        return "not waiting"
    if step.action is not StepAction.POLICE_DECONFLICTION:
        return "not a police step"
    route = current_route(session, step.case_id)
    if route is None or route.id != step.route_id:
        return "superseded"
    if active_hold(session, step.case_id, now) is not None:
        return "held"
    case = cases.get_case(session, step.case_id)
    who = step.org_name or "police"
    if step.data.get("on_timeout") == PoliceTimeout.REMIND.value:
        _remind(session, case, step, who, now)
        return "reminded"
    finish_step(session, step.id, now)
    message = f"No answer from {who} in time: proceeding with the notices"
    data = {"step_id": str(step.id)}
    cases.add_event(session, case, "police_timeout", message, actor="system", at=now, data=data)
    audit.record(session, SYSTEM, "police.timeout", "case", case.id, at=now, details=data)
    advance(session, case, settings=settings, now=now)
    return "proceeded"


def _remind(session: Session, case: Case, step: RouteStep, who: str, now: datetime) -> None:
    reminders = int(step.data.get("reminders", 0)) + 1
    due = now + _wait(step)
    # A new dict, so the JSON column sees the change. updated_at stays the start of the wait.
    step.data = {**step.data, "reminders": reminders, "due_at": due.isoformat()}
    cases.add_event(
        session,
        case,
        "police_reminder",
        f"No answer from {who} yet: reminder {reminders}; notices keep waiting "
        f"until {due.isoformat()}",
        actor="system",
        at=now,
        data={"step_id": str(step.id), "reminders": reminders, "until": due.isoformat()},
    )
    jobs.enqueue_unique(
        session,
        POLICE_TIMEOUT_JOB,
        {"case_id": str(case.id), "step_id": str(step.id)},
        dedup_key=f"{POLICE_TIMEOUT_JOB}:{step.id}:{reminders}",
        run_at=due,
    )


def hold_ended(session: Session, hold_id: uuid.UUID, *, settings: Settings, now: datetime) -> bool:
    """Release a hold whose time is up (as the system); False if there was nothing to do."""
    hold = session.get(Hold, hold_id)
    if hold is None or hold.released_at is not None:
        return False
    if hold.until > now:
        # Run early (its end was moved later): come back when it is due.
        jobs.enqueue(session, HOLD_END_JOB, {"hold_id": str(hold.id)}, run_at=hold.until)
        return False
    release_hold(session, hold, SYSTEM, settings=settings, now=now, note=EXPIRED_NOTE)
    return True


def get_hold(session: Session, hold_id: uuid.UUID) -> Hold:
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise NotFound(f"no hold {hold_id}")
    return hold


def case_holds(session: Session, case_id: uuid.UUID) -> Sequence[Hold]:
    """Every hold placed on the case, released or not, oldest first."""
    return session.scalars(
        select(Hold).where(Hold.case_id == case_id).order_by(Hold.created_at, Hold.id)
    ).all()
