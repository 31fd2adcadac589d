"""Trace a case's host: DNS, every address's facts, CDN, registrar and registry, hosting.

A trace never fails as a whole because one source did: DNS without an answer gives a
``failed`` trace that is retried; RDAP or IP-to-ASN failures leave the facts they would have
added empty and say so in the evidence.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.jobs import service as jobs
from takedown.orgs import service as orgs
from takedown.orgs.models import OrgKind
from takedown.tracing.addresses import AddressTracer, org_ref
from takedown.tracing.evidence import EvidenceLog
from takedown.tracing.interfaces import DnsAnswer, DnsLookup, DnsLookupError, RdapSource
from takedown.tracing.models import Trace, TraceStatus
from takedown.tracing.schemas import (
    AddressFacts,
    CdnFacts,
    DomainFacts,
    HostingFacts,
    OrgRef,
    TraceData,
)
from takedown.tracing.summary import summarize
from takedown.urls import public_suffix, registered_domain


@dataclass(frozen=True)
class TraceOutcome:
    """A finished trace before it is stored."""

    status: TraceStatus
    data: TraceData
    evidence: EvidenceLog
    summary: str


@dataclass
class Tracer:
    """Everything a trace asks, wired from settings by :func:`takedown.tracing.build.tracer`."""

    dns: DnsLookup
    addresses: AddressTracer

    @property
    def rdap(self) -> RdapSource | None:
        return self.addresses.rdap

    def trace(
        self, session: Session, host: str, *, now: datetime, origin: Sequence[str] = ()
    ) -> TraceOutcome:
        """Trace ``host`` (a name or an address literal); ``origin`` adds known origin IPs."""
        host = host.strip("[]").lower()
        log = EvidenceLog(now)
        answer, failure = self._resolve(host, log)
        if failure:
            data = TraceData(host=host)
            return TraceOutcome(TraceStatus.FAILED, data, log, f"{host}: {failure}")
        facts = [self.addresses.facts(session, ip, log, now=now) for ip in answer.addresses]
        origin_facts = [self.addresses.facts(session, ip, log, now=now) for ip in origin]
        cdn = self._cdn(session, answer.cname_chain, facts, log)
        domain = self._domain(session, host, log, now=now)
        data = TraceData(
            host=host,
            cname_chain=answer.cname_chain,
            addresses=facts,
            cdn=cdn,
            origin=origin_facts,
            domain=domain,
            hosting=_hosting(origin_facts or facts, cdn),
        )
        status = _status(data, answer)
        return TraceOutcome(status, data, log, summarize(data, status))

    def _resolve(self, host: str, log: EvidenceLog) -> tuple[DnsAnswer, str | None]:
        try:
            ip_address(host)
        except ValueError:
            pass
        else:
            log.add("dns", host, "an address literal; no lookup")
            return DnsAnswer(host=host, a=[host]), None
        try:
            answer = self.dns.addresses(host)
        except DnsLookupError as exc:
            log.add("dns", f"A/AAAA {host}", str(exc), ok=False)
            return DnsAnswer(host=host), str(exc)
        chain = " → ".join([host, *answer.cname_chain])
        found = ", ".join(answer.addresses) or "no addresses"
        server = f" from {answer.server}" if answer.server else ""
        log.add("dns", f"A/AAAA {host}", f"{answer.rcode}{server}: {chain}: {found}")
        return answer, None

    def _cdn(
        self,
        session: Session,
        chain: Sequence[str],
        facts: Sequence[AddressFacts],
        log: EvidenceLog,
    ) -> CdnFacts | None:
        """The CDN in front: by CNAME (directory first, then the list), then by address."""
        for name in chain:
            org = orgs.org_for_domain(session, name)
            if org is not None and org.kind is OrgKind.CDN:
                log.add("directory", f"CNAME {name}", f"{org.name} (cdn)")
                return CdnFacts(name=org.name, org=org_ref(org), via="directory", detail=name)
            listed = self.addresses.cdns.by_cname(name)
            if listed is not None:
                entry, suffix = listed
                log.add("cdn-list", f"CNAME {name}", f"{entry.name} (*.{suffix})")
                found = orgs.find_org(session, entry.name, kind=OrgKind.CDN)
                ref = org_ref(found) if found else None
                return CdnFacts(name=entry.name, org=ref, via="cname", detail=name)
        for fact in facts:
            if fact.cdn is None:
                continue
            if fact.org is not None and fact.org.kind == OrgKind.CDN.value:
                return CdnFacts(name=fact.cdn, org=fact.org, via="directory", detail=fact.ip)
            found = orgs.find_org(session, fact.cdn, kind=OrgKind.CDN)
            detail = f"AS{fact.asn}" if fact.asn else (fact.as_name or fact.ip)
            return CdnFacts(
                name=fact.cdn, org=org_ref(found) if found else None, via="asn", detail=detail
            )
        return None

    def _domain(
        self, session: Session, host: str, log: EvidenceLog, *, now: datetime
    ) -> DomainFacts | None:
        """Registry (directory, by TLD) and registrar (RDAP, then matched to the directory)."""
        domain = registered_domain(host, icann_only=True)
        tld = public_suffix(host, icann_only=True)
        if domain is None or tld is None:
            return None
        registry = orgs.registry_for_tld(session, tld)
        log.add("directory", f"registry of .{tld}", registry.name if registry else "not listed")
        registrar_name = iana_id = abuse = None
        registrar: OrgRef | None = None
        if self.rdap is not None:
            result = self.rdap.domain(session, domain, now=now)
            if result.ok and result.status != 404:
                registrar_name = result.registrar_name
                iana_id = result.registrar_iana_id
                abuse = result.registrar_abuse_email
                log.add("rdap", f"domain {domain}", f"registrar {registrar_name or '?'}")
            else:
                log.add("rdap", f"domain {domain}", result.error or "not found", ok=result.ok)
        if registrar_name:
            found = orgs.find_org(session, registrar_name, kind=OrgKind.REGISTRAR)
            if found is not None:
                registrar = org_ref(found)
        return DomainFacts(
            registered_domain=domain,
            tld=tld,
            registry=org_ref(registry) if registry else None,
            registrar=registrar,
            registrar_name=registrar_name,
            registrar_iana_id=iana_id,
            registrar_abuse_email=abuse,
        )


def _owner(fact: AddressFacts) -> OrgRef | None:
    """Who can act on an address: the directory's organization, else RDAP's network owner."""
    if fact.org is not None:
        return fact.org
    name = fact.rdap_name or fact.as_name
    if name is None:
        return None
    return OrgRef(name=name, country=fact.country, abuse_email=fact.rdap_abuse_email)


def _hosting(facts: Sequence[AddressFacts], cdn: CdnFacts | None) -> list[HostingFacts]:
    """Group addresses by (country, organization), in the order they were answered.

    Addresses that are not public and not described by the directory are left out: they
    say nothing about where the content is.
    """
    groups: dict[tuple[str | None, str | None], HostingFacts] = {}
    for fact in facts:
        if not fact.public and fact.org is None:
            continue
        owner = _owner(fact)
        if fact.cdn is not None and cdn is not None and cdn.org is not None:
            owner = cdn.org
        key = (fact.country, owner.name if owner else None)
        if key in groups:
            groups[key].addresses.append(fact.ip)
        else:
            groups[key] = HostingFacts(country=fact.country, org=owner, addresses=[fact.ip])
    return list(groups.values())


def _status(data: TraceData, answer: DnsAnswer) -> TraceStatus:
    if not answer.addresses:
        return TraceStatus.UNRESOLVED
    if not data.hosting:
        return TraceStatus.PRIVATE
    complete = all(
        group.country and group.org and (group.org.id or group.org.abuse_email)
        for group in data.hosting
    )
    return TraceStatus.COMPLETE if complete else TraceStatus.PARTIAL


def store(
    session: Session, case: Case, outcome: TraceOutcome, *, now: datetime, attempt: int = 1
) -> Trace:
    """Keep a trace on the case and put it on the timeline."""
    countries = sorted({g.country for g in outcome.data.hosting if g.country})
    trace = Trace(
        case_id=case.id,
        host=outcome.data.host,
        status=outcome.status,
        traced_at=now,
        attempt=attempt,
        countries=",".join(countries),
        summary=outcome.summary,
        data=outcome.data.model_dump(mode="json"),
        evidence=outcome.evidence.as_json(),
    )
    session.add(trace)
    session.flush()
    cases.add_event(
        session,
        case,
        "traced",
        outcome.summary,
        actor="system",
        at=now,
        data={"trace_id": str(trace.id), "status": outcome.status.value, "countries": countries},
    )
    return trace


def latest_trace(session: Session, case_id: object) -> Trace | None:
    """The case's newest trace."""
    return session.scalars(
        select(Trace).where(Trace.case_id == case_id).order_by(Trace.traced_at.desc()).limit(1)
    ).first()


# The trace job's name, registered in flow.tracing (cases.service spells it out too).
TRACE_JOB = "cases.trace"


def request_trace(session: Session, case_id: uuid.UUID, origin: list[str]) -> uuid.UUID:
    """Queue a trace on demand (a re-trace, or with origin addresses); returns the job id."""
    payload: dict[str, Any] = {"case_id": str(case_id)}
    if origin:
        payload["origin"] = origin
    return jobs.enqueue(session, TRACE_JOB, payload).id
