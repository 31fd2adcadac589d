"""The police page: cases waiting for deconfliction; clear them, hold them, release holds.

The forms call ``police.service`` exactly as the JSON API does (``police/api.py``). A refused
form is shown again with the error beside its field and nothing saved: the route checks what
the form must carry first, and each change runs in a savepoint, so a change the service
refuses halfway leaves nothing behind although the page is still rendered (and committed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from takedown.auth.principal import Permission
from takedown.cases import service as cases
from takedown.console.deps import Viewer, page, redirect, view
from takedown.errors import TakedownError, ValidationFailed
from takedown.police import service
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Police = Annotated[Viewer, Depends(page(Permission.POLICE_ACT))]
PAGE = "/console/police"
NOTE_MAX = 5000  # as police.schemas allows
# A hold chosen as a date lasts to the end of that day (UTC), so "until 1 December" includes
# 1 December, and today is a valid choice.
END_OF_DAY = time(23, 59, tzinfo=UTC)


@dataclass
class Failed:
    """A refused form: which case and form, its errors by field, and what was typed."""

    case_id: uuid.UUID | None
    form: str
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)


def _page(
    request: Request,
    viewer: Viewer,
    session: Tx,
    state: State,
    *,
    failed: Failed | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = state.clock.now()
    return view(
        request,
        "console/police.html",
        viewer,
        {
            "waits": service.police_waits(session, now),
            "failed": failed,
            "message": message,
            "now": now,
            "min_date": now.date().isoformat(),
            # The last day whose end is still within the longest hold allowed.
            "max_date": ((now + service.MAX_HOLD).date() - timedelta(days=1)).isoformat(),
        },
        status_code=status_code,
    )


@router.get(PAGE, response_class=HTMLResponse)
def police_page(request: Request, viewer: Police, session: Tx, state: State) -> HTMLResponse:
    return _page(request, viewer, session, state)


def _note(value: str) -> str | None:
    return value.strip() or None


@router.post(f"{PAGE}/{{case_id}}/clear", response_model=None)
def clear_case(
    case_id: uuid.UUID,
    request: Request,
    viewer: Police,
    session: Tx,
    state: State,
    note: Annotated[str, Form()] = "",
) -> Response:
    if len(note) > NOTE_MAX:
        failed = Failed(
            case_id, "clear", {"note": f"at most {NOTE_MAX} characters"}, {"note": note}
        )
        return _page(request, viewer, session, state, failed=failed, status_code=422)
    try:
        with session.begin_nested():
            case = cases.get_case(session, case_id)
            service.clear(
                session,
                case,
                viewer.principal,
                settings=state.settings,
                now=state.clock.now(),
                note=_note(note),
            )
    except TakedownError as exc:
        return _page(
            request, viewer, session, state, message=exc.message, status_code=exc.status_code
        )
    return redirect(PAGE)


def _until(raw: str) -> datetime:
    """The end of the day picked in the form (YYYY-MM-DD), in UTC."""
    if not raw.strip():
        raise ValidationFailed("give the date the hold ends")
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(f"{raw.strip()!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, END_OF_DAY)


@router.post(f"{PAGE}/{{case_id}}/hold", response_model=None)
def hold_case(
    case_id: uuid.UUID,
    request: Request,
    viewer: Police,
    session: Tx,
    state: State,
    reason: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    preserve_evidence: Annotated[str | None, Form()] = None,
) -> Response:
    failed = Failed(case_id, "hold", values={"reason": reason, "until": until})
    if preserve_evidence is not None:
        failed.values["preserve_evidence"] = "on"
    if not reason.strip():
        failed.errors["reason"] = "give the reason for the hold"
    elif len(reason) > NOTE_MAX:
        failed.errors["reason"] = f"at most {NOTE_MAX} characters"
    try:
        end = _until(until)
    except ValidationFailed as exc:
        failed.errors["until"] = exc.message
    if failed.errors:
        return _page(request, viewer, session, state, failed=failed, status_code=422)
    try:
        with session.begin_nested():
            case = cases.get_case(session, case_id)
            service.place_hold(
                session,
                case,
                viewer.principal,
                until=end,
                reason=reason,
                preserve_evidence=preserve_evidence is not None,
                settings=state.settings,
                now=state.clock.now(),
            )
    except ValidationFailed as exc:
        # The reason was checked above: what the service refuses is the date (past, too far).
        failed.errors["until"] = exc.message
        return _page(request, viewer, session, state, failed=failed, status_code=422)
    except TakedownError as exc:
        return _page(
            request, viewer, session, state, message=exc.message, status_code=exc.status_code
        )
    return redirect(PAGE)


@router.post(f"{PAGE}/holds/{{hold_id}}/release", response_model=None)
def release_hold(
    hold_id: uuid.UUID,
    request: Request,
    viewer: Police,
    session: Tx,
    state: State,
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        hold = service.get_hold(session, hold_id)
        if len(note) > NOTE_MAX:
            failed = Failed(
                hold.case_id, "release", {"note": f"at most {NOTE_MAX} characters"}, {"note": note}
            )
            return _page(request, viewer, session, state, failed=failed, status_code=422)
        with session.begin_nested():
            service.release_hold(
                session,
                hold,
                viewer.principal,
                settings=state.settings,
                now=state.clock.now(),
                note=_note(note),
            )
    except TakedownError as exc:
        return _page(
            request, viewer, session, state, message=exc.message, status_code=exc.status_code
        )
    return redirect(PAGE)
