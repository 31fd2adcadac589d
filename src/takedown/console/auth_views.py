"""Console sign-in: password, then a TOTP code (enrolled on the first sign-in), then a session.

Between the two steps nobody is signed in: the password step leaves only a short-lived,
signed "pending" cookie naming the user. The session cookie itself is the API's
(``takedown_session``), so the console and the API share sessions. Cookies are set by
web/cookies.py (``__Host-`` names in production, so ``Path=/`` for all).

CSRF before there is a session: the two sign-in forms cannot carry a session's token, so they
use a signed double-submit token. GET sets it in a ``SameSite=Strict`` cookie and in the form;
POST needs both, equal. A form posted from another site arrives without our Strict cookies (the
token's and the pending one), so it cannot sign a victim's browser in to an account chosen by
the attacker (login CSRF) nor finish somebody's half-done sign-in. The signature means only
values we issued count, not ones planted by a sibling domain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from takedown.auth import service as auth
from takedown.auth import totp
from takedown.auth.models import User
from takedown.auth.principal import Permission
from takedown.config import Settings
from takedown.console.deps import CONSOLE, Viewer, check_origin, page, redirect, view
from takedown.errors import RateLimited, Unauthorized
from takedown.web.cookies import delete_cookie, read_cookie, set_cookie
from takedown.web.deps import SESSION_COOKIE, AppState, State, Tx, client_address

router = APIRouter(include_in_schema=False)

LOGIN_PATH = f"{CONSOLE}/login"
TOTP_PATH = f"{LOGIN_PATH}/totp"
FORM_COOKIE = "takedown_login_form"
PENDING_COOKIE = "takedown_login_pending"
# Long enough to find the phone and type a code (or scan the QR code), short enough that a
# forgotten half sign-in on a shared machine is soon worthless.
PENDING_TTL = timedelta(minutes=5)
# A sign-in form left open this long is refused once and shown again with a fresh token.
FORM_TTL = timedelta(hours=1)
# The only wrong-credentials message: it must not tell which of the two was wrong.
WRONG_CREDENTIALS = "Wrong username or password."
WRONG_CODE = "That code was not accepted. Type the code your app shows now."
WRONG_ENROLMENT_CODE = (
    "That code was not accepted, so the key has changed: remove the account you just added "
    "from your app, scan this new code, and type the code it shows."
)
STALE_FORM = "The sign-in form was out of date. Please try again."


# -- signed cookie values --------------------------------------------------------------------


def _key(settings: Settings) -> bytes:
    # A key of its own, so a value signed here is never valid anywhere else the secret key signs.
    return hmac.new(
        settings.secret_key.encode(), b"takedown console sign-in v1", hashlib.sha256
    ).digest()


def _mac(settings: Settings, purpose: str, payload: str) -> str:
    digest = hmac.new(_key(settings), f"{purpose}\n{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _sign(settings: Settings, purpose: str, payload: str, expires: datetime) -> str:
    body = f"{payload}:{int(expires.timestamp())}"
    return f"{body}.{_mac(settings, purpose, body)}"


def _unsign(settings: Settings, purpose: str, value: str | None, now: datetime) -> str | None:
    """The payload of a value we signed for ``purpose``, if untampered and not expired."""
    if not value:
        return None
    body, _, mac = value.rpartition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac(settings, purpose, body).encode()):
        return None
    payload, _, expires = body.rpartition(":")
    if not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    return payload


def _form_token(state: AppState) -> str:
    return _sign(state.settings, "form", secrets.token_urlsafe(18), state.clock.now() + FORM_TTL)


def _form_ok(request: Request, state: AppState, given: str) -> bool:
    cookie = read_cookie(request, state.settings, FORM_COOKIE)
    if not cookie or not given or not hmac.compare_digest(cookie.encode(), given.encode()):
        return False
    return _unsign(state.settings, "form", cookie, state.clock.now()) is not None


# -- where to go afterwards ------------------------------------------------------------------


def safe_next(value: str | None) -> str:
    """``value`` if it is a console path of ours, else the console's start page.

    Anything else would make the sign-in an open redirect: ``https://evil.example`` and
    ``//evil.example`` are other sites, and browsers read ``/\\evil.example`` as
    ``//evil.example``.
    """
    if not value or "\\" in value or not value.isprintable():
        return CONSOLE
    if not (value == CONSOLE or value.startswith((f"{CONSOLE}/", f"{CONSOLE}?"))):
        return CONSOLE
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return CONSOLE
    return value


def _with_next(path: str, next_path: str) -> str:
    return path if next_path == CONSOLE else f"{path}?next={quote(next_path, safe='/')}"


# -- pages -----------------------------------------------------------------------------------


def _login_page(
    request: Request,
    state: AppState,
    next_path: str,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
) -> HTMLResponse:
    token = _form_token(state)
    response = view(
        request,
        "console/login.html",
        None,
        {"form_token": token, "next": next_path, "error": error, "username": username},
        status_code=status,
    )
    set_cookie(response, state.settings, FORM_COOKIE, token, FORM_TTL)
    return response


def _totp_page(
    request: Request,
    state: AppState,
    user: User,
    next_path: str,
    *,
    secret: str | None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    token = _form_token(state)
    context: dict[str, Any] = {
        "form_token": token,
        "next": next_path,
        "error": error,
        "username": user.username,
        "enrol": secret is not None,
        "digits": totp.DIGITS,
        "period": totp.STEP_SECONDS,
    }
    if secret is not None:
        uri = totp.provisioning_uri(secret, user.username, state.settings)
        context |= {
            "qr": totp.qr_data_uri(uri),
            "secret": totp.grouped(secret),
        }
    response = view(request, "console/totp.html", None, context, status_code=status)
    set_cookie(response, state.settings, FORM_COOKIE, token, FORM_TTL)
    return response


def _pending_user(request: Request, session: Session, state: AppState) -> User | None:
    """The user who gave the right password in the last few minutes, if still allowed in."""
    cookie = read_cookie(request, state.settings, PENDING_COOKIE)
    payload = _unsign(state.settings, "pending", cookie, state.clock.now())
    if payload is None:
        return None
    try:
        user_id = uuid.UUID(payload)
    except ValueError:
        return None
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


@router.get(LOGIN_PATH, response_model=None)
def login_form(request: Request, session: Tx, state: State, next: str = CONSOLE) -> Response:
    next_path = safe_next(next)
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    if token:
        try:
            auth.resolve_session(session, token, now=state.clock.now())
        except Unauthorized:
            pass
        else:
            return redirect(next_path)
    return _login_page(request, state, next_path)


@router.post(LOGIN_PATH, response_model=None)
def login_submit(
    request: Request,
    session: Tx,
    state: State,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = CONSOLE,
) -> Response:
    next_path = safe_next(next)
    check_origin(request, state.settings)
    try:
        # Password guessing is limited like the API sign-in, per client address.
        state.public_limiter.hit(f"login:{client_address(request)}")
    except RateLimited as exc:
        return _login_page(request, state, next_path, error=exc.message, status=429)
    if not _form_ok(request, state, csrf_token):
        return _login_page(request, state, next_path, error=STALE_FORM, status=403)
    now = state.clock.now()
    try:
        user = auth.authenticate(session, username.strip(), password, now=now)
    except Unauthorized:
        return _login_page(
            request, state, next_path, error=WRONG_CREDENTIALS, username=username, status=401
        )
    response = redirect(_with_next(TOTP_PATH, next_path))
    pending = _sign(state.settings, "pending", str(user.id), now + PENDING_TTL)
    set_cookie(response, state.settings, PENDING_COOKIE, pending, PENDING_TTL)
    return response


@router.get(TOTP_PATH, response_model=None)
def totp_form(request: Request, session: Tx, state: State, next: str = CONSOLE) -> Response:
    next_path = safe_next(next)
    user = _pending_user(request, session, state)
    if user is None:
        return redirect(_with_next(LOGIN_PATH, next_path))
    secret = None if totp.is_enrolled(user) else totp.start_enrolment(user, state.settings)
    return _totp_page(request, state, user, next_path, secret=secret)


@router.post(TOTP_PATH, response_model=None)
def totp_submit(
    request: Request,
    session: Tx,
    state: State,
    code: Annotated[str, Form(max_length=32)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = CONSOLE,
) -> Response:
    next_path = safe_next(next)
    check_origin(request, state.settings)
    user = _pending_user(request, session, state)
    if user is None:
        return redirect(_with_next(LOGIN_PATH, next_path))
    # Two submissions of one code at once must not both pass: the user's row is locked until
    # the request ends, so the second sees the step the first used (PostgreSQL; SQLite has a
    # single writer anyway).
    session.refresh(user, with_for_update=True)
    enrolled = totp.is_enrolled(user)
    if not enrolled and user.totp_secret is None:
        return redirect(_with_next(TOTP_PATH, next_path))

    def again() -> str | None:
        # A refused enrolment shows a new seed, never the one under way: whoever else has
        # the password could otherwise post a wrong code and read the seed the user is
        # scanning, and keep a working second factor.
        return None if enrolled else totp.start_enrolment(user, state.settings)

    try:
        # Per address like the password, and per account: six digits are guessable, and
        # whoever has the password may try from many addresses.
        state.public_limiter.hit(f"login:{client_address(request)}")
        state.public_limiter.hit(f"totp:{user.id}")
    except RateLimited as exc:
        return _totp_page(
            request, state, user, next_path, secret=again(), error=exc.message, status=429
        )
    if not _form_ok(request, state, csrf_token):
        return _totp_page(
            request, state, user, next_path, secret=again(), error=STALE_FORM, status=403
        )
    now = state.clock.now()
    if not totp.check_sign_in_code(session, user, code, state.settings, now=now):
        error = WRONG_CODE if enrolled else WRONG_ENROLMENT_CODE
        return _totp_page(request, state, user, next_path, secret=again(), error=error, status=401)
    token, _ = auth.start_session(session, user, state.settings, now=now)
    response = redirect(next_path)
    set_cookie(response, state.settings, SESSION_COOKIE, token, state.settings.session_ttl)
    for name in (PENDING_COOKIE, FORM_COOKIE):
        delete_cookie(response, state.settings, name)
    return response


@router.post(f"{CONSOLE}/logout")
def logout(
    request: Request,
    session: Tx,
    state: State,
    # Every role holds cases:read; the page dependency checks the session and the CSRF token.
    viewer: Annotated[Viewer, Depends(page(Permission.CASES_READ))],
) -> RedirectResponse:
    token = read_cookie(request, state.settings, SESSION_COOKIE)
    auth.sign_out(session, viewer.user, token, now=state.clock.now())
    response = redirect(LOGIN_PATH)
    delete_cookie(response, state.settings, SESSION_COOKIE)
    return response
