"""Staff sign-in for the API and the console: a server-side session in an HttpOnly cookie."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from takedown.auth import service, totp
from takedown.auth.models import Role
from takedown.errors import Unauthorized
from takedown.textfields import Line
from takedown.web.cookies import delete_cookie, read_cookie, set_cookie
from takedown.web.deps import SESSION_COOKIE, Caller, State, Tx, client_address, json_body
from takedown.web.origin import check_same_origin

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Line = Field(min_length=1, max_length=64)
    password: Line = Field(min_length=1, max_length=1024)
    totp: Line | None = Field(
        default=None,
        max_length=16,
        description="The current code of the authenticator app; required once enrolled.",
    )


class SessionOut(BaseModel):
    user_id: uuid.UUID
    username: str
    role: Role
    csrf_token: str = Field(description="Send as X-CSRF-Token with every state change.")
    expires_at: datetime


class MeOut(BaseModel):
    kind: str
    label: str
    permissions: list[str]


@router.post("/login", response_model=SessionOut, dependencies=[Depends(json_body)])
def login(
    body: LoginIn, request: Request, response: Response, session: Tx, state: State
) -> SessionOut:
    """Sign in with a username, password and TOTP code; sets the `takedown_session` cookie.

    The TOTP second factor is enrolled in the console (it shows the QR code). Until then the
    API refuses the user, unless the hotline has turned `totp_required` off.
    """
    # A sign-in that another site's page started would sign the browser in to an account of
    # the attacker's choosing (login CSRF).
    check_same_origin(request, state.settings)
    # Guessing passwords is limited like public reports, per client address.
    state.public_limiter.hit(f"login:{client_address(request)}")
    now = state.clock.now()
    user = service.authenticate(session, body.username, body.password, now=now)
    # Codes are guessed per account too, from however many addresses.
    state.public_limiter.hit(f"totp:{user.id}")
    # Locked until the request ends, so one code cannot pass twice in parallel.
    session.refresh(user, with_for_update=True)
    totp.check_second_factor(user, body.totp, state.settings, now=now)
    token, row = service.start_session(session, user, state.settings, now=now)
    set_cookie(response, state.settings, SESSION_COOKIE, token, state.settings.session_ttl)
    return SessionOut(
        user_id=user.id,
        username=user.username,
        role=user.role,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, session: Tx, state: State, caller: Caller) -> None:
    """End the current session."""
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    if caller.kind != "user" or not token:
        raise Unauthorized("not signed in")
    service.end_session(session, token)
    delete_cookie(response, state.settings, SESSION_COOKIE)


@router.get("/me", response_model=MeOut)
def me(caller: Caller) -> MeOut:
    """Who the API thinks you are, and what you may do."""
    return MeOut(kind=caller.kind, label=caller.label, permissions=sorted(caller.permissions))
