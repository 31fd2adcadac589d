"""Models of exposure: which unknown item an analyst saw sharp, and extended daily caps."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey


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
    # Indexed for the statistics: which captured items no person has ever revealed.
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_items.id", ondelete="CASCADE"), index=True
    )
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
