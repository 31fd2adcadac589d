"""Staff users: create them, change their role, deactivate them, reset their second factor.

The changes and the rule that guards them (not your own account, not the last administrator)
are in ``auth.accounts``; this page parses the form and shows the outcome."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from takedown.auth import accounts, totp
from takedown.auth import service as auth
from takedown.auth.models import Role
from takedown.auth.passwords import MIN_LENGTH
from takedown.console.admin.common import ADMIN, FormState, UserAdmin
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import Conflict, TakedownError, ValidationFailed
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
USERS: Final = f"{ADMIN}/users"


def _users_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return view(
        request,
        "console/admin_users.html",
        viewer,
        {
            "users": accounts.list_users(session),
            "roles": list(Role),
            "form": form or FormState(values={"role": Role.ANALYST.value}),
            "message": message,
            "min_length": MIN_LENGTH,
            "enrolled": totp.is_enrolled,
        },
        status_code=status_code,
    )


@router.get(USERS, response_class=HTMLResponse)
def users_page(request: Request, viewer: UserAdmin, session: Tx) -> HTMLResponse:
    return _users_page(request, viewer, session)


@router.post(USERS, response_model=None)
def create_user(
    request: Request,
    viewer: UserAdmin,
    session: Tx,
    state: State,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    # The password is never echoed back into the form.
    form = FormState(values={"username": username, "display_name": display_name, "role": role})
    try:
        chosen = Role(role)
    except ValueError:
        form.errors["role"] = "choose a role"
    if len(password) < MIN_LENGTH:
        form.errors["password"] = f"a password needs at least {MIN_LENGTH} characters"
    if not username.strip():
        form.errors["username"] = "give a username"
    if not form.errors:
        try:
            with session.begin_nested():
                auth.create_user(
                    session,
                    viewer.principal,
                    username=username,
                    password=password,
                    role=chosen,
                    display_name=display_name.strip() or None,
                    now=state.clock.now(),
                )
        except (ValidationFailed, Conflict) as exc:
            # The password and role were checked above: what is left is the username.
            form.refused("username", exc)
    if form.errors:
        return _users_page(request, viewer, session, form=form, status_code=form.status_code)
    return redirect(USERS)


def _user_change(
    request: Request,
    viewer: Viewer,
    session: Session,
    change: Callable[[], object],
) -> Response:
    """Run one change to a user (``auth.accounts``); a refusal is shown on the users page."""
    try:
        with session.begin_nested():
            change()
    except TakedownError as exc:
        return _users_page(
            request, viewer, session, message=exc.message, status_code=exc.status_code
        )
    return redirect(USERS)


@router.post(USERS + "/{user_id}/role", response_model=None)
def change_user_role(
    user_id: uuid.UUID,
    request: Request,
    viewer: UserAdmin,
    session: Tx,
    state: State,
    role: Annotated[str, Form()] = "",
) -> Response:
    try:
        chosen = Role(role)
    except ValueError:
        return _users_page(
            request, viewer, session, message=f"unknown role {role!r}", status_code=422
        )
    now = state.clock.now()
    return _user_change(
        request,
        viewer,
        session,
        lambda: accounts.change_role(session, viewer.principal, user_id, chosen, now=now),
    )


@router.post(USERS + "/{user_id}/active", response_model=None)
def set_user_active(
    user_id: uuid.UUID,
    request: Request,
    viewer: UserAdmin,
    session: Tx,
    state: State,
    active: Annotated[str, Form()] = "",
) -> Response:
    if active not in ("yes", "no"):
        return _users_page(request, viewer, session, message="say yes or no", status_code=422)
    now = state.clock.now()
    return _user_change(
        request,
        viewer,
        session,
        lambda: accounts.set_active(session, viewer.principal, user_id, active == "yes", now=now),
    )


@router.post(USERS + "/{user_id}/reset-totp", response_model=None)
def reset_user_totp(
    user_id: uuid.UUID, request: Request, viewer: UserAdmin, session: Tx, state: State
) -> Response:
    now = state.clock.now()
    return _user_change(
        request,
        viewer,
        session,
        lambda: accounts.reset_second_factor(session, viewer.principal, user_id, now=now),
    )
