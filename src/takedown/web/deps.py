"""FastAPI dependencies: the request's transaction, who is calling, and what they may do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from takedown.auth import service as auth
from takedown.auth.principal import PUBLIC, Permission, Principal
from takedown.clock import Clock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.errors import Forbidden, Unauthorized, UnsupportedMediaType
from takedown.orgs import service as orgs
from takedown.web.cookies import read_cookie
from takedown.web.origin import check_same_origin
from takedown.web.ratelimit import RateLimiter

SESSION_COOKIE = "takedown_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AppState:
    """What every request can reach: settings, database, clock and the rate limiters."""

    settings: Settings
    database: Database
    clock: Clock
    public_limiter: RateLimiter
    key_limiter: RateLimiter


async def app_state(request: Request) -> AppState:
    # async: FastAPI runs sync dependencies in the thread pool, a needless hop for this.
    return _state(request)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.takedown
    return state


State = Annotated[AppState, Depends(app_state)]


def transaction(request: Request) -> Iterator[Session]:
    """The request's one transaction: committed when the endpoint returns, else rolled back."""
    with _state(request).database.transaction() as session:
        yield session


# scope="function" commits before the response is sent, so a client never sees an id that
# a failed commit would then take back.
Tx = Annotated[Session, Depends(transaction, scope="function")]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def principal(request: Request, session: Tx, state: State) -> Principal:
    """Who is calling: an API key (Bearer), a staff session (cookie), or the public."""
    header = request.headers.get("authorization")
    now = state.clock.now()
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthorized("use 'Authorization: Bearer <API key>'")
        who = orgs.authenticate_key(session, credentials.strip(), now=now)
        state.key_limiter.hit(str(who.api_key_id))
        return who
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    if token:
        user, row = auth.resolve_session(session, token, now=now)
        # A cookie is sent by the browser on its own; a state change must also prove it
        # comes from our page by echoing the session's CSRF token (and not come from another
        # site's page, see web/origin.py).
        if request.method not in _SAFE_METHODS:
            check_same_origin(request, state.settings)
            if request.headers.get(CSRF_HEADER) != row.csrf_token:
                raise Forbidden("missing or wrong CSRF token")
        return auth.principal_for(user)
    return PUBLIC


Caller = Annotated[Principal, Depends(principal)]


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency that lets only callers holding ``permission`` through."""

    def check(caller: Caller) -> Principal:
        if caller.kind == "public":
            raise Unauthorized("this needs an API key or a signed-in user")
        if not caller.can(permission):
            raise Forbidden(f"this needs the {permission.value!r} permission")
        return caller

    return check


async def json_body(request: Request) -> None:
    """Refuse bodies that do not say they are JSON, instead of guessing."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
