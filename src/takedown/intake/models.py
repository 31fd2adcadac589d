"""Models of the intake domain: reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey, enum_column


class ReporterSource(StrEnum):
    """Who a report came from; decides its priority."""

    PUBLIC = "public"
    TRUSTED_FLAGGER = "trusted_flagger"
    POLICE = "police"
    HOTLINE = "hotline"
    STAFF = "staff"


class ContentKind(StrEnum):
    """What the reporter says the content is."""

    UNKNOWN = "unknown"
    IMAGE = "image"
    VIDEO = "video"
    TEXT = "text"
    OTHER = "other"


class SiteKind(StrEnum):
    """What kind of site the reporter says the URL is on."""

    UNKNOWN = "unknown"
    WEBSITE = "website"
    IMAGE_HOST = "image_host"
    FORUM = "forum"
    SOCIAL = "social"
    CLOUD_STORAGE = "cloud_storage"
    OTHER = "other"


class Report(UUIDPrimaryKey, Base):
    """One submission by one reporter about one URL; many reports can point at one case.

    Public reports are anonymous: no address, user agent or cookie is stored, and there is no
    column that could hold one. ``description`` is stored exactly as given and only ever
    rendered escaped.
    """

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_case_id_received_at", "case_id", "received_at"),)

    reference: Mapped[str] = mapped_column(String(16), unique=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(index=True)
    submitted_url: Mapped[str] = mapped_column(Text)
    source: Mapped[ReporterSource] = mapped_column(enum_column(ReporterSource, "reporter_source"))
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content_kind: Mapped[ContentKind] = mapped_column(enum_column(ContentKind, "content_kind"))
    site_kind: Mapped[SiteKind] = mapped_column(enum_column(SiteKind, "site_kind"))
    immediate_danger: Mapped[bool]
    description: Mapped[str | None] = mapped_column(Text)
    # The reporting organization's own identifier for the report, for their reconciliation.
    external_id: Mapped[str | None] = mapped_column(String(200))
