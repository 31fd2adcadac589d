"""Shapes of appeals as the staff API shows them.

Everything the appellant wrote (reasons, URLs, network) is returned as JSON strings, exactly
as stored: data for a client to display as text, never markup.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from takedown.lists.appeals import MAX_NOTE
from takedown.lists.models import AppealStatus, AppealSubject, EntryScope, EntryStatus
from takedown.textfields import Text


class AppealEntryOut(BaseModel):
    """A list entry an appeal is about, with who made the decision on it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    expression: str
    scope: EntryScope
    status: EntryStatus
    case_id: uuid.UUID | None
    added_by: str
    added_at: datetime
    approved_by: str | None
    withdrawn_reason: str | None


class AppealSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reference: str
    subject: AppealSubject
    status: AppealStatus
    created_at: datetime
    notice_reference: str | None
    url_count: int
    entry_count: int
    decided_by: str | None
    decided_at: datetime | None
    told_at: datetime | None


class AppealListOut(BaseModel):
    total: int
    items: list[AppealSummaryOut]


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    subject: AppealSubject
    status: AppealStatus
    urls: list[str]
    network: str
    seen_at: str
    notice_reference: str | None
    contact: str
    reasons: str
    created_at: datetime
    entries: list[AppealEntryOut]
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    told_at: datetime | None


class DelistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(default=None, max_length=MAX_NOTE)


class DecideIn(BaseModel):
    """The decision. ``note`` is for staff and the audit log; the appellant is told only the
    outcome."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["upheld", "rejected"]
    note: Text = Field(min_length=1, max_length=MAX_NOTE)
