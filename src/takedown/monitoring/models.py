"""Models of monitoring: every re-check of a case's URL and what it found."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey


class Recheck(UUIDPrimaryKey, Base):
    """One re-check: live, removed or unreachable, why, and the evidence (never bytes)."""

    __tablename__ = "rechecks"
    __table_args__ = (Index("ix_rechecks_case_id_checked_at", "case_id", "checked_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(48))
    http_status: Mapped[int | None]
    evidence: Mapped[dict[str, Any]]
