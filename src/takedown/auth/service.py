"""Staff users: creation, sign-in, sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.models import Role, User, UserSession
from takedown.auth.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from takedown.auth.permissions import ROLE_PERMISSIONS
from takedown.auth.principal import Principal
from takedown.config import Settings
from takedown.errors import Conflict, Unauthorized, ValidationFailed


def principal_for(user: User) -> Principal:
    return Principal(
        kind="user",
        id=str(user.id),
        label=user.username,
        permissions=ROLE_PERMISSIONS[user.role],
        user_id=user.id,
    )


def create_user(
    session: Session,
    actor: Principal,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    now: datetime,
) -> User:
    username = username.strip()
    if not username or len(username) > 64 or not username.isprintable():
        raise ValidationFailed("a username has 1 to 64 printable characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"a user named {username!r} exists already")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor, "user.create", "user", user.id, at=now, details={"role": role.value}
    )
    return user


def authenticate(session: Session, username: str, password: str, *, now: datetime) -> User:
    """The active user with these credentials, or Unauthorized (the same error for both faults)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(DUMMY_HASH, password)
        raise Unauthorized("wrong username or password")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise Unauthorized("wrong username or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    # Not last_login_at: the password is only the first factor (see start_session).
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, user: User, settings: Settings, *, now: datetime
) -> tuple[str, UserSession]:
    """A new session; the token is returned once and only its hash is kept.

    Called once every factor has passed, so this is the sign-in ``last_login_at`` records.
    """
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=_token_hash(token),
        csrf_token=secrets.token_urlsafe(24),
        user_id=user.id,
        created_at=now,
        expires_at=now + settings.session_ttl,
    )
    session.add(row)
    user.last_login_at = now
    audit.record(session, principal_for(user), "user.login", "user", user.id, at=now)
    return token, row


def resolve_session(session: Session, token: str, *, now: datetime) -> tuple[User, UserSession]:
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _token_hash(token)))
    if row is None or row.expires_at <= now:
        raise Unauthorized("the session has expired; sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the account is disabled")
    return user, row


def end_session(session: Session, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == _token_hash(token)))


def sign_out(session: Session, user: User, token: str | None, *, now: datetime) -> None:
    """The console's sign-out: the session ``token`` ends (if the browser still had it) and
    the audit log says who signed out."""
    if token:
        end_session(session, token)
    audit.record(session, principal_for(user), "user.logout", "user", user.id, at=now)
