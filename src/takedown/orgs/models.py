"""Models of the orgs domain: organizations and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
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
    police agency, trusted flagger or list member.

    Together with what identifies each one (networks, ASNs, domains, TLDs, countries served)
    this is the directory that tracing matches addresses against and routing picks partners
    and police from.
    """

    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, "org_kind"))
    # ISO 3166-1 alpha-2, upper case.
    country: Mapped[str] = mapped_column(String(2))
    # Where notices go. An organization may have an e-mail address, a webhook, or both.
    abuse_email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # Signs webhook bodies (HMAC-SHA256); needed in clear to sign, so never shown by the API.
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    # Language of notices (BCP 47 primary tag, e.g. "en", "nl").
    language: Mapped[str] = mapped_column(String(8), default="en")
    notes: Mapped[str] = mapped_column(Text, default="")


class OrgNetwork(UUIDPrimaryKey, Base):
    """An IP range (CIDR) that belongs to an organization: its hosting space or CDN edge.

    Ranges in the directory never overlap, so every address maps to at most one organization
    and the in-memory index can answer with one binary search.
    """

    __tablename__ = "org_networks"

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # Normalized network text (``ip_network(strict=True)``), e.g. "192.0.2.0/24".
    cidr: Mapped[str] = mapped_column(String(43), unique=True)


class OrgAsn(Base):
    """An autonomous system number operated by an organization; each ASN has one operator."""

    __tablename__ = "org_asns"

    asn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


class OrgDomain(Base):
    """A domain an organization operates, such as a CDN's CNAME target zone."""

    __tablename__ = "org_domains"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


class OrgTld(Base):
    """A top-level domain run by a registry; domain alerts for it go to that registry."""

    __tablename__ = "org_tlds"

    tld: Mapped[str] = mapped_column(String(63), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


class OrgCountry(UUIDPrimaryKey, Base):
    """A country a partner hotline or police agency covers. Some countries have several
    hotlines (Germany has three), so a country may appear for more than one organization."""

    __tablename__ = "org_countries"
    __table_args__ = (UniqueConstraint("org_id", "country"),)

    org_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    country: Mapped[str] = mapped_column(String(2), index=True)


class DirectoryRevision(Base):
    """One row counting changes to the directory's identifiers.

    Every process caches an in-memory IP-range index; a change bumps the counter in the same
    transaction, and a process rebuilds its index when the number it sees has moved.
    """

    __tablename__ = "directory_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


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
