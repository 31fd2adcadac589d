"""A hold: a law-enforcement request to delay action on a case, or to preserve evidence."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey


class Hold(UUIDPrimaryKey, Base):
    """Pauses notices and escalations (never the re-checks) until ``until`` or release."""

    __tablename__ = "holds"

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime]
    # Ask the host to preserve evidence for police when the notice goes out.
    preserve_evidence: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))
    release_note: Mapped[str | None] = mapped_column(Text)
