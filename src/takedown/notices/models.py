"""Models of the notices domain: notices sent to whoever can remove content, and their answers.

One ``Notice`` row is one attempt to get one organization to act (a first notice, each
re-notice, each escalation, a forward to a partner hotline, a police referral). Delivery
retries of the same notice reuse its ``message_id``, so a receiver that sees it twice after a
broken connection (RFC 1047) can tell it is the same notice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey, enum_column


class NoticeKind(StrEnum):
    NOTICE = "notice"
    RENOTICE = "renotice"
    ESCALATION = "escalation"
    FORWARD = "forward"
    POLICE_REFERRAL = "police_referral"
    DOMAIN_ALERT = "domain_alert"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class NoticeChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    # The organization has no contact: the notice is kept, and a person must find one.
    NONE = "none"


class NoticeStatus(StrEnum):
    QUEUED = "queued"
    HELD = "held"  # paused by a police hold; sent when the hold ends
    SENDING = "sending"  # a delivery started; if a worker died, the outcome is unknown
    SENT = "sent"
    FAILED = "failed"  # refused for good (5xx on every recipient, 4xx from a webhook)
    CANCELLED = "cancelled"  # no longer needed (removed before it went out)


class AnswerKind(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    CANNOT_ACT = "cannot_act"
    DISPUTE = "dispute"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Notice(UUIDPrimaryKey, Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_case_id_created_at", "case_id", "created_at"),)

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("route_steps.id", ondelete="SET NULL")
    )
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # Kept beside the id so the record stays readable if the organization is deleted.
    org_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, "notice_kind"))
    channel: Mapped[NoticeChannel] = mapped_column(enum_column(NoticeChannel, "notice_channel"))
    # The e-mail address or webhook URL the notice goes to.
    recipient: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[NoticeStatus] = mapped_column(
        enum_column(NoticeStatus, "notice_status"), index=True
    )
    # 0 for the first notice to an organization; escalations count up along the trace.
    escalation_level: Mapped[int] = mapped_column(default=0)
    previous_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    sending_started_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the answer link's token; the token itself is only ever in the notice.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None]
    # The X-ARF documents as sent (one per URL).
    document: Mapped[list[Any]]
    answer: Mapped[AnswerKind | None] = mapped_column(enum_column(AnswerKind, "answer_kind"))
    answered_at: Mapped[datetime | None]


class NoticeAnswer(UUIDPrimaryKey, Base):
    """What an organization answered to a notice, through the link, the API or a person."""

    __tablename__ = "notice_answers"

    notice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AnswerKind] = mapped_column(enum_column(AnswerKind, "answer_kind"))
    reason: Mapped[str] = mapped_column(Text, default="")
    via: Mapped[str] = mapped_column(String(16))  # link, api, staff
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
