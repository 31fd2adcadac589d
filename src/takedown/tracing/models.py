"""Models of the tracing domain: traces of cases and the RDAP answer cache."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey, enum_column


class TraceStatus(StrEnum):
    """How far a trace got."""

    COMPLETE = "complete"  # every public address has a country and an organization
    PARTIAL = "partial"  # resolved, but some facts are missing (no directory match, RDAP down)
    UNRESOLVED = "unresolved"  # the name does not resolve (NXDOMAIN, no addresses)
    PRIVATE = "private"  # resolves only to private or reserved addresses
    FAILED = "failed"  # DNS did not answer in time

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def retry(self) -> bool:
        """Whether the trace is retried later: a host can come back or move."""
        return self in {TraceStatus.UNRESOLVED, TraceStatus.PRIVATE, TraceStatus.FAILED}


class Trace(UUIDPrimaryKey, Base):
    """Where a case's URL was hosted at one moment: addresses, networks, organizations, CDN,
    registrar and registry, with the evidence of what answered what and when.

    A case keeps every trace (hosts move); the newest one is the case's current trace.
    ``data`` holds a :class:`takedown.tracing.schemas.TraceData`, ``evidence`` a list of
    :class:`takedown.tracing.schemas.Evidence`.
    """

    __tablename__ = "traces"
    __table_args__ = (Index("ix_traces_case_id_traced_at", "case_id", "traced_at"),)

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    host: Mapped[str] = mapped_column(String(255))
    status: Mapped[TraceStatus] = mapped_column(enum_column(TraceStatus, "trace_status"))
    traced_at: Mapped[datetime]
    # Which try this was for a host that did not resolve (1 for the first trace).
    attempt: Mapped[int] = mapped_column(default=1)
    # Countries the content is hosted in, comma-separated, for filtering and statistics.
    countries: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]]
    evidence: Mapped[list[Any]]


class RdapCacheEntry(Base):
    """One RDAP answer kept for a while, shared by every worker, so a busy day does not ask
    the registries the same question thousands of times (they rate-limit)."""

    __tablename__ = "rdap_cache"

    # "ip/192.0.2.1", "autnum/64500", "domain/example.com".
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    fetched_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # HTTP status of the answer; 404 answers are cached too (nothing to find there).
    status: Mapped[int]
    body: Mapped[dict[str, Any]]
