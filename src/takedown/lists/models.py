"""Models of the lists domain: URL list entries, published versions, downloads, members'
entitlements, keywords and appeals.

A list is published as numbered versions. Each version keeps its whole content (compressed), so
any version can be exported again, diffed, signed and downloaded long after the entries moved
on; the entries themselves are the working state that analysts and monitoring change.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, UUIDPrimaryKey, enum_column


class ListName(StrEnum):
    """The lists the hotline publishes."""

    URLS = "urls"
    HASHES = "hashes"
    KEYWORDS = "keywords"


class EntryScope(StrEnum):
    """What a URL list expression covers."""

    URL = "url"  # host/path or host/path?query: that page only
    DIRECTORY = "directory"  # host/dir/: the directory and everything below it
    HOST = "host"  # host/: the whole host and its subdomains (a dedicated site; four eyes)


class EntryStatus(StrEnum):
    PENDING = "pending"  # a whole host waits for a second person
    ACTIVE = "active"  # published in the next version
    SUSPENDED = "suspended"  # de-listed for now while an appeal is reviewed
    WITHDRAWN = "withdrawn"  # gone for good (content removed, appeal upheld, mistake)


class UrlEntry(UUIDPrimaryKey, Base):
    """One Safe Browsing expression on the URL list, linked to the case that put it there.

    ``live_key`` is the SHA-256 of the expression while the entry is not withdrawn and NULL
    after, so the database itself refuses two live entries for one expression (NULLs never
    collide in a unique index, on SQLite or PostgreSQL) while withdrawn ones stay as history.
    """

    __tablename__ = "url_entries"
    __table_args__ = (Index("ix_url_entries_status_host", "status", "host"),)

    expression: Mapped[str] = mapped_column(Text)
    live_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    scope: Mapped[EntryScope] = mapped_column(enum_column(EntryScope, "entry_scope"))
    status: Mapped[EntryStatus] = mapped_column(enum_column(EntryStatus, "entry_status"))
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)


class ListVersion(UUIDPrimaryKey, Base):
    """One publication of a list: its number, its diff against the previous one, its content.

    ``content`` is the zlib-compressed, sorted, tab-separated rows of the list (see
    ``lists.rows``); ``content_sha256`` is the digest of the uncompressed rows.
    """

    __tablename__ = "list_versions"
    __table_args__ = (UniqueConstraint("list_name", "number", name="uq_list_versions_name_number"),)

    list_name: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    entry_count: Mapped[int] = mapped_column(Integer)
    added_count: Mapped[int] = mapped_column(Integer)
    removed_count: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_sha256: Mapped[str] = mapped_column(String(64))
    # Who approved a change the guard would have refused, and what the guard said.
    approved_by: Mapped[str | None] = mapped_column(String(200))
    guard: Mapped[list[Any]] = mapped_column(default=list)


class ListDownload(UUIDPrimaryKey, Base):
    """A member's download of a list (every download is logged, 304s included)."""

    __tablename__ = "list_downloads"
    __table_args__ = (Index("ix_list_downloads_list_name_at", "list_name", "at"),)

    list_name: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    since: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(32))
    org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    principal: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class ListMember(UUIDPrimaryKey, Base):
    """An organization entitled to download a list; for the hash list, from which banks
    (empty means every block-list bank)."""

    __tablename__ = "list_members"
    __table_args__ = (UniqueConstraint("org_id", "list_name", name="uq_list_members_org_list"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    list_name: Mapped[str] = mapped_column(String(32))
    banks: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class Keyword(UUIDPrimaryKey, Base):
    """A term for search and moderation teams, with the reason staff added it."""

    __tablename__ = "keywords"

    term: Mapped[str] = mapped_column(String(200))
    # The folded term while the keyword is live, NULL once removed (see UrlEntry.live_key).
    live_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    removed_by: Mapped[str | None] = mapped_column(String(200))
    removed_at: Mapped[datetime | None]


class AppealSubject(StrEnum):
    BLOCKED_URL = "blocked_url"  # somebody cannot reach a URL their network blocks
    NOTICE = "notice"  # a host disputes a notice


class AppealStatus(StrEnum):
    OPEN = "open"
    DELISTED = "delisted"  # entries suspended while a supervisor reviews
    UPHELD = "upheld"  # the appellant was right: entries withdrawn
    REJECTED = "rejected"  # the listing stands


class Appeal(UUIDPrimaryKey, Base):
    """An appeal from the public form, decided by a supervisor who did not make the original
    decision; the appellant is told the outcome at the contact they gave."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_status_created_at", "status", "created_at"),)

    reference: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[AppealSubject] = mapped_column(enum_column(AppealSubject, "appeal_subject"))
    status: Mapped[AppealStatus] = mapped_column(enum_column(AppealStatus, "appeal_status"))
    urls: Mapped[list[Any]] = mapped_column(default=list)
    network: Mapped[str] = mapped_column(String(200), default="")
    seen_at: Mapped[str] = mapped_column(String(100), default="")
    notice_reference: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(320))
    reasons: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # The entries the appeal is about (ids of UrlEntry), found when it was filed.
    entry_ids: Mapped[list[Any]] = mapped_column(default=list)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    told_at: Mapped[datetime | None]
