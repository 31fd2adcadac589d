"""The exposure page (today's reveals and viewing time against the caps, the team's for
supervisors, extensions) and the viewer's preview preferences, shown on the same page."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from takedown import runtime
from takedown.auth.principal import Permission
from takedown.config import Settings
from takedown.console.deps import Viewer, page, redirect, view
from takedown.errors import TakedownError, ValidationFailed
from takedown.exposure import previews
from takedown.exposure import service as exposure
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
Assessor = Annotated[Viewer, Depends(page(Permission.CASES_ASSESS))]
Supervisor = Annotated[Viewer, Depends(page(Permission.CASES_SUPERVISE))]


def _settings(session: Tx, state: State) -> Settings:
    """The settings in force: an administrator may have changed the exposure caps."""
    return runtime.effective(session, state.settings)


def _page(
    request: Request,
    viewer: Viewer,
    session: Tx,
    state: State,
    extra: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    settings = _settings(session, state)
    figures = exposure.overview(session, viewer.principal, settings, state.clock.now())
    context: dict[str, Any] = {
        "mine": figures.mine,
        "team": figures.team,
        "settings": settings,
        "max_blur": previews.MAX_BLUR,
        "break_minutes": int(settings.exposure_break_interval.total_seconds() // 60),
        "values": {},
        "errors": {},
    }
    return view(
        request, "console/exposure.html", viewer, context | (extra or {}), status_code=status_code
    )


@router.get("/console/exposure", response_class=HTMLResponse)
def exposure_page(
    request: Request, viewer: Assessor, session: Tx, state: State, extended: str = ""
) -> HTMLResponse:
    return _page(request, viewer, session, state, {"extended": extended})


@router.post("/console/exposure/{user_id}/extend", response_model=None)
def extend(
    user_id: uuid.UUID,
    request: Request,
    viewer: Supervisor,
    session: Tx,
    state: State,
    extra_reveals: Annotated[str, Form()] = "0",
    extra_minutes: Annotated[str, Form()] = "0",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        row = exposure.extend(
            session,
            viewer.principal,
            user_id,
            extra_reveals=extra_reveals,
            extra_minutes=extra_minutes,
            reason=reason,
            now=state.clock.now(),
        )
    except ValidationFailed as exc:
        values = {"extra_reveals": extra_reveals, "extra_minutes": extra_minutes, "reason": reason}
        return _page(
            request,
            viewer,
            session,
            state,
            {"errors": {str(user_id): exc.message}, "values": {str(user_id): values}},
            status_code=422,
        )
    except TakedownError as exc:
        return view(
            request,
            "console/error.html",
            viewer,
            {"message": exc.message},
            status_code=exc.status_code,
        )
    return redirect(f"/console/exposure?extended={row.user_id}#team")


@router.get("/console/preferences", response_class=HTMLResponse)
def preferences_page(
    request: Request, viewer: Assessor, session: Tx, state: State, saved: str = ""
) -> HTMLResponse:
    return _page(request, viewer, session, state, {"saved": saved == "1"})


@router.post("/console/preferences", response_model=None)
def save_preferences(
    request: Request,
    viewer: Assessor,
    session: Tx,
    state: State,
    blur: Annotated[str, Form()] = "",
    greyscale: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        previews.save_preferences(
            session,
            viewer.user,
            viewer.principal,
            blur=blur,
            greyscale=greyscale is not None,
            now=state.clock.now(),
        )
    except ValidationFailed as exc:
        return _page(
            request,
            viewer,
            session,
            state,
            {"preference_error": exc.message, "values": {"blur": blur}},
            status_code=422,
        )
    return redirect("/console/preferences?saved=1#preferences")
