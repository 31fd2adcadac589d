"""Staff accounts after they exist: who they are, their role, whether they may sign in.

``auth.service`` creates users and runs sessions; this module changes them. The rule that
decides both changes: nobody changes their own role or deactivates themselves, and the last
active administrator keeps that role and stays active, because either would lock everybody
out of user management (another administrator must do it).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth import totp
from takedown.auth.models import Role, User, UserSession
from takedown.auth.principal import Principal
from takedown.errors import Conflict, NotFound


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


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
    if actor.user_id == user.id:
        raise Conflict(f"you cannot {what} your own account; ask another administrator")
    if user.role is Role.ADMIN and user.is_active and _active_admins(session, user.id) == 0:
        raise Conflict(f"{user.username} is the last active administrator")


def change_role(
    session: Session, actor: Principal, user_id: uuid.UUID, role: Role, *, now: datetime
) -> User:
    """Give the user another role; it applies to their next request (sessions read it)."""
    user = get_user(session, user_id)
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
    session: Session, actor: Principal, user_id: uuid.UUID, active: bool, *, now: datetime
) -> User:
    """Deactivate (sign-in refused, sessions ended) or reactivate an account."""
    user = get_user(session, user_id)
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


def reset_second_factor(
    session: Session, actor: Principal, user_id: uuid.UUID, *, now: datetime
) -> User:
    """Forget the user's TOTP (a lost phone): they enrol again at their next sign-in."""
    user = get_user(session, user_id)
    totp.reset(session, actor, user, now=now)
    return user
