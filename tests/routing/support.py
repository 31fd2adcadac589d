"""Builders for routing tests: traces' facts, confirmed cases, traces, hotlines and police.

Addresses are from the documentation ranges (RFC 5737) and ASNs from the documentation range
(RFC 5398); organizations are fictional.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseState, Priority
from takedown.orgs.models import Organization, OrgCountry, OrgKind
from takedown.routing.models import PoliceTimeout
from takedown.routing.rules import EffectiveRule
from takedown.tracing.models import Trace, TraceStatus
from takedown.tracing.schemas import AddressFacts, CdnFacts, HostingFacts, OrgRef, TraceData
from tests import factories
from tests.factories import NOW

HOME = "NL"


@dataclass(frozen=True)
class Host:
    """One address and who is behind it."""

    ip: str
    country: str | None
    asn: int | None
    org: OrgRef | None
    cdn: str | None = None


def ref(name: str, org_id: uuid.UUID | None = None, **extra: str) -> OrgRef:
    return OrgRef(id=org_id or uuid.uuid4(), name=name, **extra)


EXAMPLE = ref("Example Hosting", country="NL")
BEISPIEL = ref("Beispiel Hosting GmbH", country="DE")
US_HOST = ref("US Host Inc", country="US")
CDN = ref("Cloudy CDN", kind="cdn", country="US")

NL_HOST = Host("192.0.2.10", "NL", 64500, EXAMPLE)
DE_HOST = Host("198.51.100.20", "DE", 64501, BEISPIEL)
US = Host("203.0.113.30", "US", 64503, US_HOST)
CDN_EDGE = Host("192.0.2.200", "NL", 64502, CDN, cdn="Cloudy CDN")


def _facts(host: Host) -> AddressFacts:
    return AddressFacts(
        ip=host.ip,
        version=6 if ":" in host.ip else 4,
        public=True,
        country=host.country,
        asn=host.asn,
        org=host.org,
        cdn=host.cdn,
    )


def _hosting(hosts: Sequence[Host]) -> list[HostingFacts]:
    """Grouped by (country, organization) in answer order, as tracing groups them."""
    groups: dict[tuple[str | None, str | None], HostingFacts] = {}
    for host in hosts:
        key = (host.country, host.org.name if host.org else None)
        if key in groups:
            groups[key].addresses.append(host.ip)
        else:
            groups[key] = HostingFacts(country=host.country, org=host.org, addresses=[host.ip])
    return list(groups.values())


def trace_data(
    *hosts: Host, origin: Sequence[Host] = (), cdn: bool = False, host: str = "host.example"
) -> TraceData:
    """Facts of a trace of ``hosts``; with ``cdn``, Cloudy CDN is in front of them."""
    return TraceData(
        host=host,
        addresses=[_facts(h) for h in hosts],
        cdn=CdnFacts(name="Cloudy CDN", org=CDN, via="cname", detail="x.cdn.example")
        if cdn
        else None,
        origin=[_facts(h) for h in origin],
        hosting=_hosting(origin or hosts),
    )


def rule(country: str, **values: object) -> EffectiveRule:
    """An effective rule as if stored for ``country``: foreign built-ins changed by ``values``."""
    fields: dict[str, object] = {
        "country": country,
        "police_first": False,
        "police_wait_seconds": 24 * 3600,
        "on_police_timeout": PoliceTimeout.PROCEED,
        "partner_org_id": None,
        "list_url": True,
        "forward_to_partner": True,
        "notes": "",
        "source": "country rule",
    }
    return EffectiveRule(**(fields | values))  # type: ignore[arg-type]


def confirmed_case(session: Session, url: str = "http://host.example/a.jpg") -> Case:
    case = Case(
        url_sha256=hashlib.sha256(url.encode()).hexdigest(),
        canonical_url=url,
        url=url,
        host=urlsplit(url).hostname or "",
        registered_domain=None,
        state=CaseState.CONFIRMED,
        priority=Priority.PUBLIC,
        first_reported_at=NOW,
        last_reported_at=NOW,
        due_at=NOW + timedelta(hours=24),
        report_count=1,
    )
    session.add(case)
    session.flush()
    return case


def add_trace(session: Session, case: Case, data: TraceData, at: datetime = NOW) -> Trace:
    trace = Trace(
        case_id=case.id,
        host=data.host,
        status=TraceStatus.COMPLETE,
        traced_at=at,
        countries=",".join(sorted({g.country for g in data.hosting if g.country})),
        summary="",
        data=data.model_dump(mode="json"),
        evidence=[],
    )
    session.add(trace)
    session.flush()
    return trace


def serving(
    session: Session, name: str, kind: OrgKind, *countries: str, country: str | None = None
) -> Organization:
    """An organization of ``kind`` covering ``countries`` (its own country: the first)."""
    org = factories.org(session, name, kind, country or (countries[0] if countries else HOME))
    session.add_all(OrgCountry(org_id=org.id, country=c) for c in countries)
    session.flush()
    return org
