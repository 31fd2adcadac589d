"""Deadlines and caps: the runtime settings an administrator may change."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown import runtime
from takedown.console.admin.common import ADMIN, FormState, SettingsAdmin
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import NotFound
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
SETTINGS: Final = f"{ADMIN}/settings"


def _settings_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    state: State,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return view(
        request,
        "console/admin_settings.html",
        viewer,
        {
            "rows": runtime.rows(session, state.settings),
            "form": form or FormState(),
            "message": message,
        },
        status_code=status_code,
    )


@router.get(SETTINGS, response_class=HTMLResponse)
def settings_page(
    request: Request, viewer: SettingsAdmin, session: Tx, state: State
) -> HTMLResponse:
    return _settings_page(request, viewer, session, state)


SHOWN_SUFFIX: Final = "__shown"


async def _settings_form(request: Request) -> dict[str, str]:
    """The settings the form changed (key → text as typed).

    The form carries, beside each field, the value it showed (``<key>__shown``); a field
    left as shown is not considered, so saving a page loaded before another administrator's
    change does not quietly put the old value back. Async, so the body is awaited here and
    the endpoint stays synchronous (Starlette keeps the form ``page`` parsed already).
    """
    submitted = await request.form()
    given: dict[str, str] = {}
    for editable in runtime.EDITABLE:
        value = submitted.get(editable.key)
        if isinstance(value, str) and value != submitted.get(editable.key + SHOWN_SUFFIX):
            given[editable.key] = value
    return given


@router.post(SETTINGS, response_model=None)
def save_settings(
    request: Request,
    viewer: SettingsAdmin,
    session: Tx,
    state: State,
    given: Annotated[dict[str, str], Depends(_settings_form)],
) -> Response:
    # Only values that differ from those in force are stored; one bad value saves nothing.
    # What was refused is shown again as typed; the other fields show the values in force.
    try:
        with session.begin_nested():
            runtime.update(session, viewer.principal, state.settings, given, now=state.clock.now())
    except runtime.SettingsRefused as exc:
        form = FormState(errors=exc.errors, values=given)
        return _settings_page(request, viewer, session, state, form=form, status_code=422)
    return redirect(SETTINGS)


@router.post(SETTINGS + "/reset", response_model=None)
def reset_setting(
    request: Request,
    viewer: SettingsAdmin,
    session: Tx,
    state: State,
    key: Annotated[str, Form()] = "",
) -> Response:
    try:
        with session.begin_nested():
            runtime.reset(session, viewer.principal, key, now=state.clock.now())
    except NotFound as exc:
        return _settings_page(request, viewer, session, state, message=exc.message, status_code=404)
    return redirect(SETTINGS)
