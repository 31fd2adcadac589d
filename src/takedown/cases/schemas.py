"""Shapes of cases as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from takedown.cases.models import CaseState, ItemVerdict, Priority
from takedown.intake.models import ContentKind, ReporterSource, SiteKind


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    canonical_url: str
    host: str
    registered_domain: str | None
    state: CaseState
    priority: Priority
    first_reported_at: datetime
    last_reported_at: datetime
    due_at: datetime
    report_count: int
    closed_at: datetime | None
    first_notice_at: datetime | None
    # Seen gone by a re-check (a provider's claim alone does not set it).
    removed_at: datetime | None
    # Escalated along the trace, or a notice refused or disputed: a supervisor should look.
    escalated_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def seconds_to_removal_from_report(self) -> float | None:
        """Time to removal as INHOPE counts it: from the first report."""
        if self.removed_at is None:
            return None
        return (self.removed_at - self.first_reported_at).total_seconds()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def seconds_to_removal_from_notice(self) -> float | None:
        """Time to removal as the IWF counts it: from the first notice."""
        if self.removed_at is None or self.first_notice_at is None:
            return None
        return (self.removed_at - self.first_notice_at).total_seconds()


class CaseReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    received_at: datetime
    submitted_url: str
    source: ReporterSource
    org_id: uuid.UUID | None
    content_kind: ContentKind
    site_kind: SiteKind
    immediate_danger: bool
    description: str | None
    external_id: str | None


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    actor: str
    message: str
    data: dict[str, Any]


class CaseItemOut(BaseModel):
    """A captured media file: where it was, its hashes and what is known of it (no bytes)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    md5: str
    sha1: str
    sha256: str
    pdq: str | None
    pdq_quality: int | None
    verdict: ItemVerdict
    classification: str | None
    automatic: bool
    match: dict[str, Any]
    captured_at: datetime


class CaseDetailOut(CaseOut):
    reports: list[CaseReportOut]
    items: list[CaseItemOut]
    timeline: list[CaseEventOut]


class CaseListOut(BaseModel):
    total: int
    items: list[CaseOut]


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["confirmed", "not_illegal"]
    note: str | None = Field(default=None, max_length=5000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=5000)
