"""Models of the auth domain: staff users and their sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, Timestamped, UUIDPrimaryKey, enum_column


class Role(StrEnum):
    """A staff member's role; it decides what they may do."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    ANALYST = "analyst"
    POLICE = "police"

    @property
    def label(self) -> str:
        return {
            "admin": "Administrator",
            "supervisor": "Supervisor",
            "analyst": "Analyst",
            "police": "Police liaison",
        }[self.value]


class User(UUIDPrimaryKey, Timestamped, Base):
    """A staff member of the hotline who signs in to the console or the API."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    # The TOTP seed (RFC 6238), encrypted under a key derived from the secret key, so a copy
    # of the database alone does not give the second factor. Enrolled once the first code
    # from the authenticator app has been accepted.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None]
    # The last TOTP time step accepted: a code is good once (RFC 6238 section 5.2).
    totp_last_step: Mapped[int | None]
    # How this analyst wants unknown items previewed before revealing one.
    preview_blur: Mapped[int] = mapped_column(default=12)
    preview_greyscale: Mapped[bool] = mapped_column(default=True)


class UserSession(UUIDPrimaryKey, Base):
    """A signed-in browser or API client of a staff member.

    Only the SHA-256 of the session token is stored, so a copy of the database does not let
    anyone sign in. ``csrf_token`` must accompany every state-changing request made with the
    session cookie.
    """

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
