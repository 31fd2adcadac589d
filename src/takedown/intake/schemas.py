"""Shapes of reports as they arrive over the API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from takedown.intake.models import ContentKind, SiteKind
from takedown.textfields import Line, Text


class ReportIn(BaseModel):
    """A report of one URL."""

    model_config = ConfigDict(extra="forbid")

    url: Line = Field(min_length=1, max_length=8192, description="The address of the content.")
    content_kind: ContentKind = ContentKind.UNKNOWN
    site_kind: SiteKind = SiteKind.UNKNOWN
    immediate_danger: bool = Field(
        default=False, description="A child may be in immediate danger: handled first."
    )
    description: Text | None = Field(default=None, max_length=10_000)
    external_id: Line | None = Field(
        default=None, max_length=200, description="Your own identifier, echoed back."
    )


class BulkIn(BaseModel):
    """Up to the configured maximum (default 10,000) reports in one request.

    Items are checked one by one, so a bad item is rejected with its reason while the good
    ones are stored; each item has the shape of a single report.
    """

    model_config = ConfigDict(extra="forbid")

    reports: list[dict[str, Any]] = Field(
        min_length=1, json_schema_extra={"items": {"$ref": "#/components/schemas/ReportIn"}}
    )


class ReportOut(BaseModel):
    report_id: uuid.UUID
    reference: str
    case_id: uuid.UUID
    case_created: bool
    received_at: datetime


class BulkItemOut(BaseModel):
    """The fate of one item of a bulk request, in the order given."""

    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    report_id: uuid.UUID | None = None
    reference: str | None = None
    case_id: uuid.UUID | None = None
    reason: str | None = None
    external_id: str | None = None


class BulkOut(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[BulkItemOut]
