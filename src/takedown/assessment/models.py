"""Models of assessment: decisions that wait for a second person (four eyes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey, enum_column


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
