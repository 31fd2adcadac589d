"""Staff users: create them, change their role, deactivate them, reset their second factor."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth import service as auth
from takedown.auth import totp
from takedown.auth.models import Role, User, UserSession
from takedown.auth.passwords import MIN_LENGTH
from takedown.auth.principal import Principal
from takedown.console.admin.common import ADMIN, FormState, UserAdmin
from takedown.console.deps import Viewer, redirect, view
from takedown.errors import Conflict, NotFound, TakedownError, ValidationFailed
from takedown.web.deps import State, Tx

router = APIRouter(include_in_schema=False)
USERS: Final = f"{ADMIN}/users"

# auth.service creates users but has nothing yet to change one; these are the console's, and
# belong beside create_user when the CLI or the API needs them too.


def _active_admins(session: Session, besides: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                User.role == Role.ADMIN, User.is_active.is_(True), User.id != besides
            )
        )
        or 0
    )


def _check_not_self_or_last_admin(
    session: Session, actor: Principal, user: User, what: str
) -> None:
    # An administrator who demotes or disables themselves, or the last administrator, locks
    # everybody out of this page; another administrator must do it.
    if actor.user_id == user.id:
        raise Conflict(f"you cannot {what} your own account; ask another administrator")
    if user.role is Role.ADMIN and user.is_active and _active_admins(session, user.id) == 0:
        raise Conflict(f"{user.username} is the last active administrator")


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def change_role(
    session: Session, actor: Principal, user: User, role: Role, *, now: datetime
) -> User:
    """Give ``user`` another role; it applies to their next request (sessions read it)."""
    if role is user.role:
        return user
    _check_not_self_or_last_admin(session, actor, user, "change the role of")
    before = user.role
    user.role = role
    session.flush()
    audit.record(
        session,
        actor,
        "user.role",
        "user",
        user.id,
        at=now,
        details={"before": before.value, "after": role.value},
    )
    return user


def set_active(
    session: Session, actor: Principal, user: User, active: bool, *, now: datetime
) -> User:
    """Deactivate (sign-in refused, sessions ended) or reactivate an account."""
    if active == user.is_active:
        return user
    if not active:
        _check_not_self_or_last_admin(session, actor, user, "deactivate")
        # Sessions are refused for an inactive user anyway; deleting them says so plainly.
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.is_active = active
    session.flush()
    action = "user.activate" if active else "user.deactivate"
    audit.record(session, actor, action, "user", user.id, at=now)
    return user


def _users_page(
    request: Request,
    viewer: Viewer,
    session: Session,
    *,
    form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    users = session.scalars(select(User).order_by(User.username)).all()
    return view(
        request,
        "console/admin_users.html",
        viewer,
        {
            "users": users,
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
    change: Callable[[User], object],
    user_id: uuid.UUID,
) -> Response:
    """Run one change to a user; a refusal is shown on the users page."""
    try:
        with session.begin_nested():
            change(get_user(session, user_id))
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
        lambda user: change_role(session, viewer.principal, user, chosen, now=now),
        user_id,
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
        lambda user: set_active(session, viewer.principal, user, active == "yes", now=now),
        user_id,
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
        lambda user: totp.reset(session, viewer.principal, user, now=now),
        user_id,
    )
