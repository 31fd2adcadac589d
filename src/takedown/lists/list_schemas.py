"""Request and response bodies of the lists API (entries, versions, members, keywords)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from takedown.lists.models import (
    EntryScope,
    EntryStatus,
    Keyword,
    ListMember,
    ListVersion,
    UrlEntry,
)
from takedown.textfields import Line, Text


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A URL (https://host/dir/) or an expression (host/dir/).
    expression: Line = Field(min_length=1, max_length=4096)
    reason: Text = Field(min_length=1, max_length=2000)
    case_id: uuid.UUID | None = None
    # A whole host (``host/``) is listed only for a site dedicated to the material, and waits
    # for a second person; saying so is required, so nobody lists a host by a slip.
    dedicated_site: bool = False


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=2000)


class EntryOut(BaseModel):
    id: uuid.UUID
    expression: str
    host: str
    scope: EntryScope
    status: EntryStatus
    case_id: uuid.UUID | None
    reason: str
    added_by: str
    added_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    withdrawn_by: str | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None

    @classmethod
    def of(cls, entry: UrlEntry) -> EntryOut:
        return cls.model_validate(entry, from_attributes=True)


class EntryListOut(BaseModel):
    items: list[EntryOut]


class VersionOut(BaseModel):
    name: str
    number: int
    created_at: datetime
    created_by: str
    entry_count: int
    added_count: int
    removed_count: int
    content_sha256: str
    approved_by: str | None
    guard: list[Any]

    @classmethod
    def of(cls, version: ListVersion) -> VersionOut:
        return cls(
            name=version.list_name,
            number=version.number,
            created_at=version.created_at,
            created_by=version.created_by,
            entry_count=version.entry_count,
            added_count=version.added_count,
            removed_count=version.removed_count,
            content_sha256=version.content_sha256,
            approved_by=version.approved_by,
            guard=version.guard,
        )


class VersionListOut(BaseModel):
    items: list[VersionOut]


class DraftOut(BaseModel):
    """What publishing now would do, and what the guard says about it."""

    name: str
    previous: int | None
    changed: bool
    # Send it back with an approval: what you reviewed is what gets published.
    digest: str
    entry_count: int
    added: list[list[str]]
    removed: list[list[str]]
    violations: list[dict[str, str]]


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Publish even though the guard refuses: the supervisor's approval, recorded. It needs
    # ``reviewed``: the ``digest`` of the draft the supervisor looked at.
    approve: bool = False
    reviewed: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")


class PublishOut(BaseModel):
    published: bool
    version: VersionOut | None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    banks: list[Line] = Field(default_factory=list, max_length=100)


class MemberOut(BaseModel):
    org_id: uuid.UUID
    name: str
    banks: list[str]
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, member: ListMember) -> MemberOut:
        return cls(
            org_id=member.org_id,
            name=member.list_name,
            banks=list(member.banks),
            created_at=member.created_at,
            created_by=member.created_by,
        )


class MemberListOut(BaseModel):
    items: list[MemberOut]


class KeywordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term: Line = Field(min_length=1, max_length=400)
    reason: Text = Field(min_length=1, max_length=2000)


class KeywordOut(BaseModel):
    id: uuid.UUID
    term: str
    reason: str
    added_by: str
    added_at: datetime
    removed_by: str | None
    removed_at: datetime | None

    @classmethod
    def of(cls, keyword: Keyword) -> KeywordOut:
        return cls.model_validate(keyword, from_attributes=True)


class KeywordListOut(BaseModel):
    items: list[KeywordOut]
