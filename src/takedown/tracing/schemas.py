"""The shape of a trace: what tracing found, stored as JSON on ``Trace`` and shown by the API.

Pydantic models rather than dataclasses, because they are validated when read back from the
database (an old trace stays readable after a field is added, with its default).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from takedown.tracing.models import TraceStatus


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrgRef(_Model):
    """An organization named in a trace: from the directory (with ``id``) or only from RDAP."""

    id: uuid.UUID | None = None
    name: str
    kind: str | None = None
    country: str | None = None
    abuse_email: str | None = None


OrgMatch = Literal["ip_range", "asn", "domain", "rdap", "cdn_list"]


class AddressFacts(_Model):
    """What is known about one address the host resolved to."""

    ip: str
    version: Literal[4, 6]
    public: bool
    country: str | None = None
    asn: int | None = None
    as_name: str | None = None
    # The routed prefix the address is in, when the dataset knows it.
    prefix: str | None = None
    org: OrgRef | None = None
    # How ``org`` was found: a directory IP range, a directory ASN, RDAP, or the CDN list.
    org_match: OrgMatch | None = None
    # The abuse contact found by RDAP for this address or its ASN (the directory's wins).
    rdap_abuse_email: str | None = None
    rdap_name: str | None = None
    # Name of the CDN or reverse proxy this address belongs to, if any.
    cdn: str | None = None


class CdnFacts(_Model):
    """A CDN or reverse proxy in front of the content, and how it was recognised."""

    name: str
    org: OrgRef | None = None
    via: Literal["cname", "asn", "directory"]
    # The CNAME or ASN that gave it away.
    detail: str


class DomainFacts(_Model):
    """Who controls the registered domain: the registry (by TLD) and the registrar (RDAP)."""

    registered_domain: str
    tld: str
    registry: OrgRef | None = None
    registrar: OrgRef | None = None
    # The registrar as RDAP names it, even when it is not in the directory.
    registrar_name: str | None = None
    registrar_iana_id: str | None = None
    registrar_abuse_email: str | None = None


class HostingFacts(_Model):
    """One place the content is hosted: a country and the organization that can remove it."""

    country: str | None
    org: OrgRef | None
    addresses: list[str]


class TraceData(_Model):
    """Everything one trace found."""

    host: str
    cname_chain: list[str] = Field(default_factory=list)
    addresses: list[AddressFacts] = Field(default_factory=list)
    cdn: CdnFacts | None = None
    # Addresses of the origin behind the CDN, when known (given by an analyst or the CDN).
    origin: list[AddressFacts] = Field(default_factory=list)
    domain: DomainFacts | None = None
    # Where the content is, grouped by (country, organization): the origin's when known,
    # otherwise the public addresses' (behind a CDN, that is the CDN's).
    hosting: list[HostingFacts] = Field(default_factory=list)


class Evidence(_Model):
    """One question tracing asked, and its answer: what answered what, and when."""

    at: datetime
    source: Literal["dns", "ipdata", "asn-dns", "directory", "rdap", "cdn-list"]
    query: str
    answer: str
    ok: bool = True


# Bodies of the tracing API.


class TraceOut(BaseModel):
    id: uuid.UUID
    status: TraceStatus
    host: str
    traced_at: datetime
    attempt: int
    countries: list[str]
    summary: str
    data: TraceData
    evidence: list[Evidence]


class TraceRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Origin servers behind a CDN, when the CDN disclosed them or an analyst found them.
    origin: list[IPv4Address | IPv6Address] = Field(default_factory=list, max_length=16)


class TraceRequestOut(BaseModel):
    job_id: uuid.UUID
