"""Models of the audit domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base


class AuditRecord(Base):
    """One entry of the audit log: who did what to which object, and when.

    A record is inserted in the transaction of the action it records, with no hash and no
    lock. A single appender (``audit.service.chain``, run by the ``audit.chain`` job) then
    gives committed records their ``position`` in the chain and a keyed ``hash`` over
    ``prev_hash``, the position and the content, so editing or deleting a chained row breaks
    the chain at that row. Nothing in the action's transaction waits for anyone else's.
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
    # Filled in by the appender; NULL while the record waits to be chained.
    position: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), unique=True
    )
    prev_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
