"""Models of the orgs domain: organizations and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, Timestamped, UUIDPrimaryKey, enum_column


class OrgKind(StrEnum):
    """What an organization is to the hotline."""

    HOSTING_PROVIDER = "hosting_provider"
    CDN = "cdn"
    REGISTRY = "registry"
    REGISTRAR = "registrar"
    ISP = "isp"
    HOTLINE = "hotline"
    POLICE = "police"
    TRUSTED_FLAGGER = "trusted_flagger"
    MEMBER = "member"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize().replace("Cdn", "CDN").replace("Isp", "ISP")


class Organization(UUIDPrimaryKey, Timestamped, Base):
    """Anyone the hotline deals with: a host, CDN, registry, registrar, ISP, partner hotline,
    police agency, trusted flagger or list member. The tracing work grows this into the full
    directory (contacts, networks, notice channels)."""

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, "org_kind"))
    # ISO 3166-1 alpha-2, upper case.
    country: Mapped[str] = mapped_column(String(2))


class ApiKey(UUIDPrimaryKey, Base):
    """A secret that lets an organization's systems use the API.

    Keys look like ``td_<prefix>_<secret>``. The prefix finds the row; only the SHA-256 of the
    whole key is stored (keys are 256-bit random, so a fast hash is safe, unlike passwords).
    """

    __tablename__ = "api_keys"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
