"""Shapes of notices and their answers as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from takedown.notices.answers import MAX_REASON, NoticeView
from takedown.notices.models import (
    AnswerKind,
    Notice,
    NoticeAnswer,
    NoticeChannel,
    NoticeKind,
    NoticeStatus,
)
from takedown.textfields import Text


class AnswerIn(BaseModel):
    """An answer to a notice. ``reason`` is required for ``cannot_act`` and ``dispute``."""

    model_config = ConfigDict(extra="forbid")

    kind: AnswerKind
    reason: Text = Field(default="", max_length=MAX_REASON)


class AnswerOut(BaseModel):
    """An answer as the organization that gave it sees it."""

    model_config = ConfigDict(from_attributes=True)

    kind: AnswerKind
    reason: str
    via: str
    at: datetime


class StaffAnswerOut(AnswerOut):
    """An answer as staff see it: also who gave or recorded it."""

    id: uuid.UUID
    actor: str


class NoticeItemOut(BaseModel):
    """One media file the notice names, by its hashes only (never its bytes)."""

    model_config = ConfigDict(from_attributes=True)

    sha256: str
    md5: str | None
    sha1: str | None
    pdq: str | None
    classification: str | None
    media_type: str | None


class OrgNoticeOut(BaseModel):
    """A notice as the organization it went to sees it."""

    reference: str
    kind: NoticeKind
    urls: list[str]
    host: str | None
    items: list[NoticeItemOut]
    asks_removal: bool
    asks_preservation: bool
    sent_at: datetime | None
    deadline_at: datetime
    answer: AnswerKind | None
    answered_at: datetime | None
    answers: list[AnswerOut]

    @classmethod
    def of(cls, view: NoticeView) -> OrgNoticeOut:
        notice, content = view.notice, view.content
        return cls(
            reference=notice.reference,
            kind=notice.kind,
            urls=list(content.urls),
            host=content.host,
            items=[NoticeItemOut.model_validate(i) for i in content.items],
            asks_removal=content.asks_removal,
            asks_preservation=content.asks_preservation,
            sent_at=notice.sent_at,
            deadline_at=notice.deadline_at,
            answer=notice.answer,
            answered_at=notice.answered_at,
            answers=[AnswerOut.model_validate(a) for a in view.answers],
        )


class CaseNoticeOut(BaseModel):
    """A notice of a case as staff see it: where it went, how delivery went, the answers."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    kind: NoticeKind
    status: NoticeStatus
    org_id: uuid.UUID | None
    org_name: str
    channel: NoticeChannel
    recipient: str
    escalation_level: int
    created_at: datetime
    deadline_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    answer: AnswerKind | None
    answered_at: datetime | None
    answers: list[StaffAnswerOut]

    @classmethod
    def of(cls, notice: Notice, answers: list[NoticeAnswer]) -> CaseNoticeOut:
        return cls.model_validate(
            {
                **{name: getattr(notice, name) for name in cls.model_fields if name != "answers"},
                "answers": [StaffAnswerOut.model_validate(a) for a in answers],
            }
        )


class CaseNoticeListOut(BaseModel):
    items: list[CaseNoticeOut]
