"""Models of the audit domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base


class AuditRecord(Base):
    """One entry of the audit log: who did what to which object, and when.

    The log is append-only and hash-chained: ``hash`` is the SHA-256 of ``prev_hash`` and this
    record's content, so editing or deleting a row breaks the chain at that row. ``prev_hash``
    is unique, which also makes two concurrent appends on one predecessor impossible.
    """

    __tablename__ = "audit_log"

    # SQLite only autoincrements an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for a log.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
