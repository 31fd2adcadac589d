"""Models of the console: what analysts were exposed to, four-eyes approvals, and the settings
administrators change from the console.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey, enum_column


class ItemReveal(UUIDPrimaryKey, Base):
    """One unknown item an analyst revealed (showed sharp), and until when.

    Exposure is counted from these rows: reveals per day and viewing time (``hidden_at`` minus
    ``revealed_at``, capped, because a tab left open is not a person looking). Every reveal is
    also in the audit log.
    """

    __tablename__ = "item_reveals"
    __table_args__ = (Index("ix_item_reveals_user_id_revealed_at", "user_id", "revealed_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case_items.id", ondelete="CASCADE"))
    revealed_at: Mapped[datetime]
    hidden_at: Mapped[datetime | None]


class ExposureExtension(UUIDPrimaryKey, Base):
    """A supervisor lets an analyst go past the daily cap, for one day."""

    __tablename__ = "exposure_extensions"
    __table_args__ = (Index("ix_exposure_extensions_user_id_day", "user_id", "day"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[str] = mapped_column(String(10))  # ISO date, in UTC
    extra_reveals: Mapped[int] = mapped_column(Integer, default=0)
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime]


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Approval(UUIDPrimaryKey, Base):
    """A decision that needs a second person (four eyes): what the first person decided and
    why, and what the second person said. The action is carried out only when approved.

    ``action`` names what is asked (e.g. ``list_host``, ``reverse_decision``,
    ``not_illegal_trusted``); ``payload`` holds what carrying it out needs.
    """

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status_requested_at", "status", "requested_at"),)

    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(Text)  # what it is about, for people
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ApprovalStatus] = mapped_column(enum_column(ApprovalStatus, "approval_status"))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class RuntimeSetting(Base):
    """A setting an administrator changed in the console; it overrides the environment's.

    Only the settings named in ``console.runtime.EDITABLE`` can be stored here (deadlines,
    exposure caps, the four-eyes actions...); secrets and addresses stay in the environment.
    """

    __tablename__ = "runtime_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
