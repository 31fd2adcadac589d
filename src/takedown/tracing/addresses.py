"""Facts about one address: country, AS, the organization behind it, abuse contact, CDN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address

from sqlalchemy.orm import Session

from takedown.orgs import service as orgs
from takedown.orgs.models import Organization, OrgKind
from takedown.tracing.cdn import CdnList
from takedown.tracing.evidence import EvidenceLog
from takedown.tracing.interfaces import (
    AsnSource,
    DnsLookupError,
    IpDataSource,
    RdapResult,
    RdapSource,
)
from takedown.tracing.schemas import AddressFacts, OrgMatch, OrgRef
from takedown.urls import is_public_address


def org_ref(org: Organization) -> OrgRef:
    return OrgRef(
        id=org.id,
        name=org.name,
        kind=org.kind.value,
        country=org.country,
        abuse_email=org.abuse_email,
    )


@dataclass
class AddressTracer:
    """Asks the offline dataset, IP-to-ASN, the directory and RDAP about addresses."""

    ip_data: IpDataSource
    asn: AsnSource | None
    rdap: RdapSource | None
    cdns: CdnList

    def facts(self, session: Session, ip: str, log: EvidenceLog, *, now: datetime) -> AddressFacts:
        """Everything known about ``ip``.

        Private and reserved addresses get no outside lookups, but the directory is still
        asked: an operator may describe internal ranges (the sandbox does, on loopback).
        """
        version = 6 if ip_address(ip).version == 6 else 4
        public = is_public_address(ip)
        org = orgs.org_for_ip(session, ip)
        match: OrgMatch | None = "ip_range" if org is not None else None
        if org is not None:
            log.add("directory", f"network of {ip}", f"{org.name} ({org.kind.value})")
        if not public:
            if org is None:
                log.add("directory", f"network of {ip}", "not public; no directory entry")
            return AddressFacts(
                ip=ip,
                version=version,
                public=False,
                country=org.country if org else None,
                org=org_ref(org) if org else None,
                org_match=match,
                cdn=org.name if org and org.kind is OrgKind.CDN else None,
            )
        data = self.ip_data.lookup(ip)
        log.add("ipdata", ip, f"country {data.country or '?'}, AS name {data.as_name or '?'}")
        asn, prefix, country = None, data.prefix, data.country
        if self.asn is not None:
            try:
                record = self.asn.origin(ip)
            except DnsLookupError as exc:
                log.add("asn-dns", ip, str(exc), ok=False)
                record = None
            else:
                log.add("asn-dns", ip, f"AS{record.asn} {record.prefix}" if record else "no answer")
            if record is not None:
                asn, prefix = record.asn, record.prefix or prefix
                country = country or record.country
        if org is None and asn is not None:
            org = orgs.org_for_asn(session, asn)
            if org is not None:
                match = "asn"
                log.add("directory", f"AS{asn}", f"{org.name} ({org.kind.value})")
        rdap = self._rdap(session, ip, asn, org, log, now=now)
        cdn = None
        if org is not None and org.kind is OrgKind.CDN:
            cdn = org.name
        else:
            entry = self.cdns.by_network(asn, data.as_name)
            if entry is not None:
                cdn = entry.name
                log.add("cdn-list", f"AS{asn or '?'} {data.as_name or ''}".strip(), entry.name)
        if org is None and rdap is not None and rdap.ok and rdap.name:
            match = "rdap"
        return AddressFacts(
            ip=ip,
            version=version,
            public=True,
            country=country,
            asn=asn,
            as_name=data.as_name,
            prefix=prefix,
            org=org_ref(org) if org else None,
            org_match=match,
            rdap_abuse_email=rdap.abuse_email if rdap else None,
            rdap_name=rdap.name if rdap else None,
            cdn=cdn,
        )

    def _rdap(
        self,
        session: Session,
        ip: str,
        asn: int | None,
        org: Organization | None,
        log: EvidenceLog,
        *,
        now: datetime,
    ) -> RdapResult | None:
        """RDAP for the address (then its ASN) when the directory has no abuse contact."""
        if self.rdap is None or (org is not None and org.abuse_email):
            return None
        result = self.rdap.ip(session, ip, now=now)
        _log_rdap(log, f"ip {ip}", result)
        if result.ok and not result.abuse_email and asn is not None:
            by_asn = self.rdap.autnum(session, asn, now=now)
            _log_rdap(log, f"autnum {asn}", by_asn)
            if by_asn.ok and by_asn.abuse_email:
                return RdapResult(
                    ok=True,
                    kind="ip",
                    query=ip,
                    status=result.status,
                    name=result.name or by_asn.name,
                    country=result.country or by_asn.country,
                    abuse_email=by_asn.abuse_email,
                )
        return result


def _log_rdap(log: EvidenceLog, query: str, result: RdapResult) -> None:
    if not result.ok:
        log.add("rdap", query, result.error or "no answer", ok=False)
        return
    if result.status == 404:
        log.add("rdap", query, "not found (404)")
        return
    cached = " (cached)" if result.cached else ""
    log.add(
        "rdap",
        query,
        f"{result.name or '?'}, abuse {result.abuse_email or 'unknown'}{cached}",
    )
