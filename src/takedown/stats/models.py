"""Daily aggregates: the additive counts of each closed UTC day, kept after rows are purged.

One row per day and figure. A day is written once, after it has ended (``daily.aggregate``),
and is never changed: counts of a day only ever grow from events dated that day, and those
are written at the time they happen.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base

_BIGINT = BigInteger().with_variant(Integer(), "sqlite")


class StatsDaily(Base):
    __tablename__ = "stats_daily"
    __table_args__ = (UniqueConstraint("day", "metric"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True, autoincrement=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # ISO date, in UTC
    metric: Mapped[str] = mapped_column(String(48))
    value: Mapped[int] = mapped_column(_BIGINT)
