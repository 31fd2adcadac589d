"""Shapes of cases as the API shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from takedown.cases.models import CaseState, ItemVerdict, Priority
from takedown.intake.models import ContentKind, ReporterSource, SiteKind
from takedown.textfields import Text


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
    """A case as staff see it: priority, every report, the items, the timeline with notes."""

    # Tells the staff view from the reporter's view (ReporterCaseView) in one response type;
    # always present in an answer, so the document marks it required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    view: Literal["staff"] = "staff"
    reports: list[CaseReportOut]
    items: list[CaseItemOut]
    timeline: list[CaseEventOut]


class CaseListOut(BaseModel):
    """Cases as staff see them, most urgent first."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    view: Literal["staff"] = "staff"
    total: int
    items: list[CaseOut]


# -- what an organization's API key sees (takedown.cases.reporter_view) ----------------------

PublicStatus = Literal["received", "assessed", "notice_sent", "removed"]


class ReporterReportView(BaseModel):
    """One of the caller's own reports, as it sent it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    received_at: datetime
    submitted_url: str = Field(description="The address as you reported it.")
    external_id: str | None = Field(description="Your own identifier, as you sent it.")
    content_kind: ContentKind
    site_kind: SiteKind
    immediate_danger: bool
    description: str | None


class ReporterCaseView(BaseModel):
    """A case as the organization that reported it sees it: its own reports and the case's
    public status, with times. Nothing about other reporters, the hotline's staff or police:
    no priority, report count, first report, timeline, notes or holds. A case waiting for
    police looks like any case still waiting for its notice."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    view: Literal["reporter"] = "reporter"
    id: uuid.UUID
    canonical_url: str = Field(description="The address in the hotline's canonical form.")
    status: PublicStatus = Field(
        description="The furthest milestone reached: received, assessed, notice_sent, removed."
    )
    received_at: datetime = Field(description="When your first report of it arrived.")
    assessed_at: datetime | None = Field(description="When the hotline decided on it.")
    verdict: Literal["confirmed", "not_illegal"] | None = Field(
        description="The decision: confirmed illegal, or not illegal (nothing more is done)."
    )
    notice_sent_at: datetime | None = Field(
        description="When the first notice asking for removal went out (to the host, a CDN, "
        "a registrar, or a partner hotline in the host's country)."
    )
    removed_at: datetime | None = Field(
        description="When a re-check found the content gone (a provider's word alone does "
        "not count)."
    )
    reports: list[ReporterReportView]


class ReporterCaseList(BaseModel):
    """The cases the caller's organization reported, its most recent report first."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    view: Literal["reporter"] = "reporter"
    total: int
    items: list[ReporterCaseView]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(default=None, max_length=5000)
