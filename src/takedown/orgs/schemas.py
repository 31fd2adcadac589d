"""Request and response bodies of the directory API (``/api/v1/orgs``).

Values are checked by the service (``orgs.fields``), which gives the same messages to the API,
the command line and imports; these models only fix the shape. No response carries a webhook
secret, only whether one is set.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from takedown.countries import country_name, is_country
from takedown.orgs.directory import ImportReport
from takedown.orgs.fields import MAX_IDENTIFIERS
from takedown.orgs.lookups import IpMatch, OrgIdentifiers
from takedown.orgs.models import Organization, OrgKind
from takedown.textfields import Line, Text

_Asns = list[int | str]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgIn(_In):
    name: Line = Field(max_length=200)
    kind: OrgKind
    country: Line = Field(max_length=64, description="ISO 3166-1 alpha-2 code, e.g. NL.")
    abuse_email: Line | None = Field(None, max_length=320)
    webhook_url: Line | None = Field(None, max_length=2000)
    webhook_secret: Line | None = Field(
        None, max_length=200, description="Signs webhook bodies; write-only."
    )
    language: Line = Field("en", max_length=16, description="Language of notices, e.g. en.")
    notes: Text = Field("", max_length=10_000)
    asns: _Asns = Field(default_factory=list, max_length=MAX_IDENTIFIERS)
    networks: list[Line] = Field(
        default_factory=list,
        max_length=MAX_IDENTIFIERS,
        description="CIDR ranges; no two in the directory may overlap.",
    )
    domains: list[Line] = Field(
        default_factory=list,
        max_length=MAX_IDENTIFIERS,
        description="Domains operated (subdomains match too), e.g. a CDN's CNAME zone.",
    )
    tlds: list[Line] = Field(
        default_factory=list, max_length=MAX_IDENTIFIERS, description="Registries only."
    )
    countries: list[Line] = Field(
        default_factory=list,
        max_length=300,
        description="Countries served (partner hotlines, police).",
    )


class OrgPatch(_In):
    """Fields to change; an identifier list replaces the whole set, null clears a contact."""

    name: Line | None = Field(None, max_length=200)
    kind: OrgKind | None = None
    country: Line | None = Field(None, max_length=64)
    abuse_email: Line | None = Field(None, max_length=320)
    webhook_url: Line | None = Field(None, max_length=2000)
    webhook_secret: Line | None = Field(None, max_length=200)
    language: Line | None = Field(None, max_length=16)
    notes: Text | None = Field(None, max_length=10_000)
    asns: _Asns | None = Field(None, max_length=MAX_IDENTIFIERS)
    networks: list[Line] | None = Field(None, max_length=MAX_IDENTIFIERS)
    domains: list[Line] | None = Field(None, max_length=MAX_IDENTIFIERS)
    tlds: list[Line] | None = Field(None, max_length=MAX_IDENTIFIERS)
    countries: list[Line] | None = Field(None, max_length=300)


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: OrgKind
    kind_label: str
    country: str
    country_name: str
    abuse_email: str | None
    webhook_url: str | None
    webhook_secret_set: bool = Field(description="Whether webhook bodies are signed.")
    language: str
    notes: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, org: Organization) -> OrgOut:
        return cls(
            id=org.id,
            name=org.name,
            kind=org.kind,
            kind_label=org.kind.label,
            country=org.country,
            country_name=country_name(org.country) if is_country(org.country) else org.country,
            abuse_email=org.abuse_email,
            webhook_url=org.webhook_url,
            webhook_secret_set=bool(org.webhook_secret),
            language=org.language,
            notes=org.notes,
            created_at=org.created_at,
            updated_at=org.updated_at,
        )


class OrgDetailOut(OrgOut):
    asns: list[int]
    networks: list[str]
    domains: list[str]
    tlds: list[str]
    countries: list[str]

    @classmethod
    def with_identifiers(cls, org: Organization, ids: OrgIdentifiers) -> OrgDetailOut:
        return cls(
            **OrgOut.of(org).model_dump(),
            asns=list(ids.asns),
            networks=list(ids.networks),
            domains=list(ids.domains),
            tlds=list(ids.tlds),
            countries=list(ids.countries),
        )


class OrgListOut(BaseModel):
    total: int
    items: list[OrgOut]


class LookupOut(BaseModel):
    ip: str
    network: str | None = Field(description="The directory's range holding the address.")
    org: OrgOut | None

    @classmethod
    def of(cls, ip: str, found: IpMatch | None) -> LookupOut:
        if found is None:
            return cls(ip=ip, network=None, org=None)
        return cls(ip=ip, network=found.network, org=OrgOut.of(found.org))


class LineErrorOut(BaseModel):
    line: int
    message: str


class ImportOut(BaseModel):
    created: int
    updated: int
    error_count: int
    errors: list[LineErrorOut] = Field(description="The first 1,000 problems, by line.")

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(
            created=report.created,
            updated=report.updated,
            error_count=len(report.errors),
            errors=[LineErrorOut(**e) for e in report.errors_out()],
        )
