"""Shapes of police deconfliction and holds as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from takedown.cases.models import CaseState, Priority
from takedown.police.models import Hold
from takedown.routing.models import PoliceTimeout
from takedown.routing.schemas import RouteStepOut
from takedown.textfields import Text


class ClearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Kept in the audit log, not on the case's timeline (reporters can read that).
    note: Text | None = Field(default=None, max_length=5000)


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # With a timezone (2026-12-01T09:00:00+01:00): a hold's end must not depend on guessing.
    until: AwareDatetime
    reason: Text = Field(min_length=1, max_length=5000)
    # Ask the host, when the notice goes out, to preserve evidence for police.
    preserve_evidence: bool = False


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(default=None, max_length=5000)


class HoldOut(BaseModel):
    """A hold; ``active``: in force now (not released, ``until`` still ahead)."""

    id: uuid.UUID
    case_id: uuid.UUID
    reason: str
    until: datetime
    preserve_evidence: bool
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    release_note: str | None
    active: bool

    @classmethod
    def of(cls, hold: Hold, now: datetime) -> HoldOut:
        return cls(
            id=hold.id,
            case_id=hold.case_id,
            reason=hold.reason,
            until=hold.until,
            preserve_evidence=hold.preserve_evidence,
            created_by=hold.created_by,
            created_at=hold.created_at,
            released_at=hold.released_at,
            released_by=hold.released_by,
            release_note=hold.release_note,
            active=hold.released_at is None and hold.until > now,
        )


class HoldListOut(BaseModel):
    items: list[HoldOut]


class PoliceQueueItemOut(BaseModel):
    """A case waiting for police to clear or hold it."""

    case_id: uuid.UUID
    url: str
    host: str
    state: CaseState
    priority: Priority
    step_id: uuid.UUID
    police_org: str | None
    waiting_since: datetime
    # When the wait runs out and the rule's ``on_timeout`` applies.
    until: datetime
    on_timeout: PoliceTimeout
    reminders: int
    explanation: str
    hold: HoldOut | None


class PoliceQueueOut(BaseModel):
    total: int
    items: list[PoliceQueueItemOut]


class ClearOut(BaseModel):
    """A cleared case and the steps that started because of it (its notices)."""

    case_id: uuid.UUID
    started: list[RouteStepOut]
