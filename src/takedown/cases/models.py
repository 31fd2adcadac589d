"""Models of the cases domain: the case, its states and priorities, and its timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from takedown.db.base import Base, Timestamped, UUIDPrimaryKey, enum_column


class CaseState(StrEnum):
    """Where a case is in its walk from report to removal. Later work adds states."""

    NEW = "new"
    AWAITING_ASSESSMENT = "awaiting_assessment"
    CONFIRMED = "confirmed"
    NOT_ILLEGAL = "not_illegal"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Priority(StrEnum):
    """How urgent a case is, from the most urgent report attached to it."""

    IMMEDIATE_DANGER = "immediate_danger"
    POLICE = "police"
    TRUSTED = "trusted"
    PUBLIC = "public"

    @property
    def rank(self) -> int:
        """0 is the most urgent."""
        return _PRIORITY_ORDER.index(self)

    @property
    def label(self) -> str:
        return {
            "immediate_danger": "Child may be in immediate danger",
            "police": "Police",
            "trusted": "Trusted flagger",
            "public": "Public",
        }[self.value]


_PRIORITY_ORDER = list(Priority)


class Case(UUIDPrimaryKey, Timestamped, Base):
    """The unit of work: one canonical URL, with every report about it, its state and deadline.

    The same URL reported 500 times is one case with 500 reports. ``url_sha256`` (of the
    canonical URL) is the dedup key; ``url`` is the address as first reported, which is what
    gets fetched, because canonicalization (unescaping) can change what a server returns.
    """

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_state_due_at", "state", "due_at"),)

    url_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    canonical_url: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255), index=True)
    registered_domain: Mapped[str | None] = mapped_column(String(255), index=True)
    state: Mapped[CaseState] = mapped_column(enum_column(CaseState, "case_state"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority"))
    first_reported_at: Mapped[datetime] = mapped_column(index=True)
    last_reported_at: Mapped[datetime]
    due_at: Mapped[datetime]
    report_count: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None]
    # Time to removal is measured from first_reported_at (INHOPE) and first_notice_at (IWF).
    first_notice_at: Mapped[datetime | None]
    # When a re-check confirmed the content gone (a provider's claim alone does not count).
    removed_at: Mapped[datetime | None] = mapped_column(index=True)
    # Escalated along the trace: a supervisor should look at the case.
    escalated_at: Mapped[datetime | None]
    # The one re-check chain of a case: a recheck job runs only if it is the one due now.
    next_recheck_at: Mapped[datetime | None]

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.at", lazy="raise", passive_deletes=True
    )


class CaseEvent(UUIDPrimaryKey, Base):
    """One entry of a case's timeline: something that happened to the case, by whom, when."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_id_at", "case_id", "at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]

    case: Mapped[Case] = relationship(back_populates="events", lazy="raise")


class ItemVerdict(StrEnum):
    """What is known about one media file of a case."""

    UNKNOWN = "unknown"
    KNOWN = "known"  # matched a block-list bank: assessed without anyone looking
    CONFIRMED = "confirmed"
    NOT_ILLEGAL = "not_illegal"


class CaseItem(UUIDPrimaryKey, Base):
    """One media file found at a case's URL: its hashes and its assessment, never its bytes.

    Items that match a block-list bank are assessed automatically with the bank entry's
    classification (``automatic``, with the bank and distance), so nobody has to see them.
    """

    __tablename__ = "case_items"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    md5: Mapped[str] = mapped_column(String(32))
    sha1: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None]
    verdict: Mapped[ItemVerdict] = mapped_column(enum_column(ItemVerdict, "item_verdict"))
    classification: Mapped[str | None] = mapped_column(String(64))
    automatic: Mapped[bool] = mapped_column(default=False)
    match: Mapped[dict[str, Any]] = mapped_column(default=dict)
    captured_at: Mapped[datetime] = mapped_column(index=True)
