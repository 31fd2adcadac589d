"""Changing staff accounts (``auth.accounts``): the rule that nobody locks the hotline out of
user management, whoever calls it (the console's users page, a command, the API)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.auth import accounts
from takedown.auth import service as auth
from takedown.auth.models import Role, User, UserSession
from takedown.config import Settings
from takedown.errors import Conflict, NotFound
from tests.factories import ACTOR, NOW

PASSWORD = "a long enough password"


def make(db: Session, username: str, role: Role) -> User:
    return auth.create_user(db, ACTOR, username=username, password=PASSWORD, role=role, now=NOW)


def actions(db: Session, user: User) -> list[str]:
    query = select(AuditRecord.action).where(AuditRecord.object_id == str(user.id))
    return list(db.scalars(query))


def test_the_last_active_administrator_keeps_the_role_and_stays_active(db: Session) -> None:
    admin = make(db, "root", Role.ADMIN)
    with pytest.raises(Conflict, match="last active administrator"):
        accounts.change_role(db, ACTOR, admin.id, Role.ANALYST, now=NOW)
    with pytest.raises(Conflict, match="last active administrator"):
        accounts.set_active(db, ACTOR, admin.id, False, now=NOW)
    assert (admin.role, admin.is_active) == (Role.ADMIN, True)
    # With a second administrator, either may go.
    make(db, "deputy", Role.ADMIN)
    accounts.change_role(db, ACTOR, admin.id, Role.SUPERVISOR, now=NOW)
    assert admin.role is Role.SUPERVISOR
    assert "user.role" in actions(db, admin)


def test_nobody_changes_their_own_account(db: Session) -> None:
    admin = make(db, "root", Role.ADMIN)
    make(db, "deputy", Role.ADMIN)
    itself = auth.principal_for(admin)
    with pytest.raises(Conflict, match="your own account"):
        accounts.set_active(db, itself, admin.id, False, now=NOW)
    with pytest.raises(Conflict, match="your own account"):
        accounts.change_role(db, itself, admin.id, Role.ANALYST, now=NOW)


def test_deactivating_ends_the_sessions_and_is_audited(db: Session, settings: Settings) -> None:
    analyst = make(db, "ana", Role.ANALYST)
    auth.start_session(db, analyst, settings, now=NOW)
    accounts.set_active(db, ACTOR, analyst.id, False, now=NOW)
    count = select(func.count()).where(UserSession.user_id == analyst.id)
    assert db.scalar(count) == 0
    accounts.set_active(db, ACTOR, analyst.id, True, now=NOW)
    assert analyst.is_active
    assert {"user.deactivate", "user.activate"} <= set(actions(db, analyst))


def test_an_unknown_user_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        accounts.reset_second_factor(db, ACTOR, uuid.uuid4(), now=NOW)
