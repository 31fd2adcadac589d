"""Tracer.trace against the sandbox's DNS and RDAP servers on loopback, and a real directory.

Documentation addresses (RFC 5737, RFC 3849) are not public, so tracing asks nothing outside
about them; the tests that need the offline dataset, IP-to-ASN or RDAP use public addresses
the dataset knows, as ``test_trace_flow`` does. Nothing is ever sent to those addresses: every
DNS and RDAP question goes to the servers on 127.0.0.1.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.orgs.models import OrgKind
from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.sandbox.rdap import RdapServer
from takedown.tracing.build import build_tracer
from takedown.tracing.dns import asn_query_name
from takedown.tracing.models import TraceStatus
from takedown.tracing.rdap import RdapClient
from takedown.tracing.schemas import AddressFacts
from takedown.tracing.service import TraceOutcome, Tracer
from tests.orgs.support import directory_org
from tests.tracing.dns_support import ZONES
from tests.tracing.rdap_support import rdap_server

__all__ = ["rdap_server"]  # a fixture, imported for pytest to find

# Public addresses the shipped dataset knows (country, AS name); never contacted.
NL_IP, NL_IP6 = "193.0.6.139", "2001:67c:2e8::1"
DE_IP, DE_IP6 = "5.9.1.1", "2a01:4f8::1"
FASTLY_IP = "151.101.1.1"
# Documentation AS numbers (RFC 5398).
ASN_NL, ASN_DE = 64496, 64497
# The local RDAP server's autnum with an abuse contact (see takedown.sandbox.rdap).
RDAP_ASN = 64500

# Besides the test zones: a real-looking .com for the registry and registrar, and a zone of a
# CDN in the shipped list, both served only by the local server.
TRACE_ZONES = (*ZONES, "example.com", "fastly.net")


@pytest.fixture
def dns() -> Iterator[AuthoritativeDnsServer]:
    with AuthoritativeDnsServer(TRACE_ZONES) as server:
        yield server


def tracer_settings(settings: Settings, dns: AuthoritativeDnsServer, rdap_url: str) -> Settings:
    return settings.model_copy(
        update={
            "dns_nameservers": [dns.host],
            "dns_port": dns.port,
            "dns_timeout": 2.0,
            "rdap_base_url": rdap_url,
            "rdap_timeout": 2.0,
            "rdap_rate_per_second": 1000.0,
        }
    )


def close(tracer: Tracer) -> None:
    if isinstance(tracer.rdap, RdapClient):
        tracer.rdap.close()


@pytest.fixture
def tracer(
    settings: Settings, dns: AuthoritativeDnsServer, rdap_server: RdapServer
) -> Iterator[Tracer]:
    built = build_tracer(tracer_settings(settings, dns, rdap_server.base_url))
    yield built
    close(built)


def serve(dns: AuthoritativeDnsServer, name: str, *ips: str) -> None:
    """``name`` answers ``ips`` (A and AAAA)."""
    v4 = [ip for ip in ips if ":" not in ip]
    v6 = [ip for ip in ips if ":" in ip]
    if v4:
        dns.set(name, "A", *v4)
    if v6:
        dns.set(name, "AAAA", *v6)


def origin_as(dns: AuthoritativeDnsServer, ip: str, asn: int, prefix: str, country: str) -> None:
    """The IP-to-ASN TXT record for ``ip``, in Team Cymru's format."""
    dns.set(asn_query_name(ip), "TXT", f"{asn} | {prefix} | {country} | ripencc | 2001-01-01")


def by_ip(outcome: TraceOutcome) -> dict[str, AddressFacts]:
    return {fact.ip: fact for fact in outcome.data.addresses}


def evidence(outcome: TraceOutcome, source: str) -> list[tuple[str, str, bool]]:
    return [(e.query, e.answer, e.ok) for e in outcome.evidence.lines if e.source == source]


def cdn_of(outcome: TraceOutcome) -> tuple[str, str, str, uuid.UUID | None]:
    """The CDN a trace found, as (name, via, detail, its directory organization's id)."""
    cdn = outcome.data.cdn
    assert cdn is not None
    assert cdn.org is not None
    return cdn.name, cdn.via, cdn.detail, cdn.org.id


def run(tracer: Tracer, db: Session, clock: FrozenClock, host: str, **options: Any) -> TraceOutcome:
    return tracer.trace(db, host, now=clock.now(), **options)


# DNS


def test_a_cname_chain_and_every_address_are_traced(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    dns.set("www.example.test", "CNAME", "alias.example.test")
    dns.set("alias.example.test", "CNAME", "web.example.test")
    serve(dns, "web.example.test", NL_IP, DE_IP, DE_IP6, NL_IP6)
    origin_as(dns, DE_IP, ASN_DE, "5.9.0.0/16", "DE")

    outcome = run(tracer, db, clock, "WWW.Example.Test")

    data = outcome.data
    assert data.host == "www.example.test"
    assert data.cname_chain == ["alias.example.test", "web.example.test"]
    assert [(f.ip, f.version) for f in data.addresses] == [
        (NL_IP, 4),
        (DE_IP, 4),
        (DE_IP6, 6),
        (NL_IP6, 6),
    ]
    facts = by_ip(outcome)
    assert {ip: f.country for ip, f in facts.items()} == {
        NL_IP: "NL",
        DE_IP: "DE",
        DE_IP6: "DE",
        NL_IP6: "NL",
    }
    assert all(f.public and f.as_name for f in data.addresses)  # the offline dataset
    assert (facts[DE_IP].asn, facts[DE_IP].prefix) == (ASN_DE, "5.9.0.0/16")  # IP-to-ASN
    assert facts[NL_IP].asn is None  # no TXT record for it
    [(query, answer, ok)] = evidence(outcome, "dns")
    assert query == "A/AAAA www.example.test"
    assert answer.startswith(f"NOERROR from {dns.address}: ")
    assert "www.example.test → alias.example.test → web.example.test" in answer
    assert ok
    assert outcome.summary.startswith(
        "www.example.test → alias.example.test → web.example.test: 193.0.6.139 (NL"
    )
    # Nothing in the directory, and RDAP knows none of these addresses: names, no contacts.
    assert outcome.status is TraceStatus.PARTIAL
    assert {(g.country, tuple(g.addresses)) for g in data.hosting} == {
        ("NL", (NL_IP, NL_IP6)),
        ("DE", (DE_IP, DE_IP6)),
    }


def test_an_address_literal_is_traced_without_a_lookup(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    outcome = run(tracer, db, clock, f"[{DE_IP6.upper()}]")

    assert outcome.data.host == DE_IP6
    assert [(f.ip, f.version, f.country) for f in outcome.data.addresses] == [(DE_IP6, 6, "DE")]
    assert outcome.data.cname_chain == []
    assert outcome.data.domain is None  # an address has no registrar
    assert evidence(outcome, "dns") == [(DE_IP6, "an address literal; no lookup", True)]
    # Only the IP-to-ASN question reached DNS.
    assert [q.rdtype for q in dns.received] == ["TXT"]


def test_a_name_that_does_not_exist_is_unresolved_with_evidence(
    tracer: Tracer, db: Session, clock: FrozenClock
) -> None:
    outcome = run(tracer, db, clock, "gone.example.test")

    assert outcome.status is TraceStatus.UNRESOLVED
    assert outcome.status.retry
    assert outcome.data.addresses == []
    assert outcome.data.hosting == []
    [(query, answer, ok)] = evidence(outcome, "dns")
    assert query == "A/AAAA gone.example.test"
    assert answer.startswith("NXDOMAIN")
    assert answer.endswith("no addresses")
    assert ok  # DNS answered: the name does not exist
    assert outcome.summary == "gone.example.test: does not resolve; will retry"


def test_dns_without_an_answer_fails_the_trace_with_evidence(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    serve(dns, "broken.example.test", NL_IP)
    dns.fail("broken.example.test", "SERVFAIL")

    outcome = run(tracer, db, clock, "broken.example.test")

    assert outcome.status is TraceStatus.FAILED
    assert outcome.status.retry
    assert outcome.data.addresses == []
    [(query, answer, ok)] = evidence(outcome, "dns")
    assert query == "A/AAAA broken.example.test"
    assert "SERVFAIL" in answer
    assert not ok
    assert outcome.summary.startswith("broken.example.test: ")
    assert "SERVFAIL" in outcome.summary


def test_only_private_addresses_give_a_private_trace_and_no_outside_lookups(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    serve(dns, "intranet.example.test", "10.0.0.5", "192.0.2.44", "fd00::5")

    outcome = run(tracer, db, clock, "intranet.example.test")

    assert outcome.status is TraceStatus.PRIVATE
    assert outcome.status.retry
    assert [(f.ip, f.public, f.country) for f in outcome.data.addresses] == [
        ("10.0.0.5", False, None),
        ("192.0.2.44", False, None),
        ("fd00::5", False, None),
    ]
    assert outcome.data.hosting == []
    assert "only private or reserved addresses" in outcome.summary
    assert evidence(outcome, "asn-dns") == []
    assert not any(path.startswith("/ip/") for path, _ in rdap_server.requests)


# The directory


def test_the_directory_org_is_found_by_ip_range_and_its_contact_wins(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    hosting = directory_org(
        db, "Example Hosting NL", networks=["193.0.0.0/21"], abuse_email="abuse@nl.example"
    )
    # By AS number another organization would match: the range is more specific and wins.
    directory_org(db, "Example Transit", asns=[ASN_NL], abuse_email="abuse@transit.example")
    serve(dns, "www.example.test", NL_IP)
    origin_as(dns, NL_IP, ASN_NL, "193.0.0.0/21", "NL")

    outcome = run(tracer, db, clock, "www.example.test")

    fact = by_ip(outcome)[NL_IP]
    assert fact.org is not None
    assert (fact.org.id, fact.org.name, fact.org_match) == (hosting.id, hosting.name, "ip_range")
    assert fact.org.abuse_email == "abuse@nl.example"
    # The directory has a contact, so RDAP is not asked about the address.
    assert rdap_server.count(f"/ip/{NL_IP}") == 0
    assert fact.rdap_abuse_email is None
    assert outcome.status is TraceStatus.COMPLETE
    [group] = outcome.data.hosting
    assert (group.country, group.org, group.addresses) == ("NL", fact.org, [NL_IP])
    assert ("network of 193.0.6.139", "Example Hosting NL (hosting_provider)", True) in evidence(
        outcome, "directory"
    )


def test_a_directory_range_describes_even_a_documentation_address(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    # The sandbox describes its own non-public networks this way.
    lab = directory_org(db, "Example Lab Hosting", networks=["198.51.100.0/24"], country="DE")
    serve(dns, "lab.example.test", "198.51.100.9")

    outcome = run(tracer, db, clock, "lab.example.test")

    fact = by_ip(outcome)["198.51.100.9"]
    assert not fact.public
    assert fact.org is not None
    assert (fact.org.id, fact.org_match, fact.country) == (lab.id, "ip_range", "DE")
    assert outcome.status is TraceStatus.COMPLETE


def test_the_directory_org_is_found_by_asn(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    hosting = directory_org(
        db, "Example Hosting DE", country="DE", asns=[ASN_DE], abuse_email="abuse@de.example"
    )
    serve(dns, "www.example.test", DE_IP, DE_IP6)
    origin_as(dns, DE_IP, ASN_DE, "5.9.0.0/16", "DE")
    origin_as(dns, DE_IP6, ASN_DE, "2a01:4f8::/32", "DE")

    outcome = run(tracer, db, clock, "www.example.test")

    for ip, prefix in ((DE_IP, "5.9.0.0/16"), (DE_IP6, "2a01:4f8::/32")):
        fact = by_ip(outcome)[ip]
        assert fact.org is not None
        assert (fact.asn, fact.prefix, fact.org.id, fact.org_match) == (
            ASN_DE,
            prefix,
            hosting.id,
            "asn",
        )
    assert outcome.status is TraceStatus.COMPLETE
    [group] = outcome.data.hosting
    assert group.addresses == [DE_IP, DE_IP6]
    assert (f"AS{ASN_DE}", "Example Hosting DE (hosting_provider)", True) in evidence(
        outcome, "directory"
    )


# RDAP


def test_rdap_gives_the_abuse_contact_the_directory_lacks(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    known = directory_org(db, "Example Hosting NL", networks=["193.0.0.0/21"])  # no contact
    rdap_server.answer(f"/ip/{NL_IP}", fixture="ip_ripe.json")
    rdap_server.answer(f"/ip/{DE_IP}", fixture="ip_ripe.json")
    serve(dns, "www.example.test", NL_IP, DE_IP)

    outcome = run(tracer, db, clock, "www.example.test")

    nl, de = by_ip(outcome)[NL_IP], by_ip(outcome)[DE_IP]
    assert rdap_server.count(f"/ip/{NL_IP}") == 1
    assert nl.org is not None
    assert (nl.org.id, nl.org_match) == (known.id, "ip_range")
    assert (nl.rdap_name, nl.rdap_abuse_email) == ("EXAMPLE-HOSTING-NET", "abuse@hosting.example")
    # Without a directory entry, RDAP's network owner is who can act.
    assert (de.org, de.org_match) == (None, "rdap")
    assert de.rdap_abuse_email == "abuse@hosting.example"
    rdap_owner = next(g.org for g in outcome.data.hosting if g.addresses == [DE_IP])
    assert rdap_owner is not None
    assert (rdap_owner.name, rdap_owner.abuse_email) == (
        "EXAMPLE-HOSTING-NET",
        "abuse@hosting.example",
    )
    assert outcome.status is TraceStatus.COMPLETE
    assert (
        f"ip {DE_IP}",
        "EXAMPLE-HOSTING-NET, abuse abuse@hosting.example",
        True,
    ) in evidence(outcome, "rdap")


def test_without_a_network_contact_rdap_asks_the_origin_as(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    serve(dns, "www.example.test", DE_IP)  # RDAP has no network for it (404)
    origin_as(dns, DE_IP, RDAP_ASN, "5.9.0.0/16", "DE")

    outcome = run(tracer, db, clock, "www.example.test")

    fact = by_ip(outcome)[DE_IP]
    assert rdap_server.count(f"/ip/{DE_IP}") == 1
    assert rdap_server.count(f"/autnum/{RDAP_ASN}") == 1
    assert (fact.rdap_name, fact.rdap_abuse_email) == (
        "EXAMPLE-TRANSIT-AS",
        "abuse@transit.example",
    )
    assert outcome.status is TraceStatus.COMPLETE


def test_rdap_answers_are_cached_between_traces(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    rdap_server.answer(f"/ip/{NL_IP}", fixture="ip_ripe.json")
    serve(dns, "www.example.com", NL_IP)

    run(tracer, db, clock, "www.example.com")
    asked = rdap_server.count()
    again = run(tracer, db, clock, "www.example.com")

    assert asked == 2  # the address and the domain
    assert rdap_server.count() == asked
    assert by_ip(again)[NL_IP].rdap_abuse_email == "abuse@hosting.example"
    assert any(answer.endswith("(cached)") for _, answer, _ in evidence(again, "rdap"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_rdap_down_leaves_a_usable_partial_trace(
    settings: Settings, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    down = build_tracer(tracer_settings(settings, dns, f"http://127.0.0.1:{closed_port()}"))
    serve(dns, "www.example.com", NL_IP)
    origin_as(dns, NL_IP, RDAP_ASN, "193.0.0.0/21", "NL")

    try:
        outcome = run(down, db, clock, "www.example.com")
    finally:
        close(down)

    assert outcome.status is TraceStatus.PARTIAL
    fact = by_ip(outcome)[NL_IP]
    # What DNS, IP-to-ASN and the offline dataset said is all there.
    assert (fact.country, fact.asn, fact.prefix) == ("NL", RDAP_ASN, "193.0.0.0/21")
    assert fact.as_name
    assert (fact.rdap_name, fact.rdap_abuse_email) == (None, None)
    [group] = outcome.data.hosting
    assert group.org is not None
    assert (group.org.name, group.org.abuse_email) == (fact.as_name, None)
    assert outcome.data.domain is not None
    assert outcome.data.domain.registrar_name is None
    assert evidence(outcome, "rdap") == [
        (f"ip {NL_IP}", "could not connect", False),
        ("domain example.com", "could not connect", False),
    ]


def test_an_rdap_server_error_is_evidence_not_a_failure(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    rdap_server.answer(f"/ip/{NL_IP}", {"errorCode": 500}, status=500)
    serve(dns, "www.example.test", NL_IP)

    outcome = run(tracer, db, clock, "www.example.test")

    assert outcome.status is TraceStatus.PARTIAL
    assert by_ip(outcome)[NL_IP].country == "NL"
    assert (f"ip {NL_IP}", "HTTP 500", False) in evidence(outcome, "rdap")


# CDNs and origins


def test_a_cdn_is_recognised_by_a_cname_in_the_shipped_list(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    fastly = directory_org(db, "Fastly", OrgKind.CDN, "US", abuse_email="abuse@cdn.example")
    dns.set("img.example.test", "CNAME", "example.map.fastly.net")
    serve(dns, "example.map.fastly.net", FASTLY_IP)

    outcome = run(tracer, db, clock, "img.example.test")

    assert cdn_of(outcome) == ("Fastly", "cname", "example.map.fastly.net", fastly.id)
    assert ("CNAME example.map.fastly.net", "Fastly (*.fastly.net)", True) in evidence(
        outcome, "cdn-list"
    )
    # With the origin unknown, the CDN is where the content is.
    [group] = outcome.data.hosting
    assert group.org is not None
    assert (group.org.id, group.addresses) == (fastly.id, [FASTLY_IP])
    assert "Behind Fastly (via cname example.map.fastly.net); origin unknown" in outcome.summary


def test_a_cdn_is_recognised_by_a_cname_of_a_directory_cdn(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    cloudy = directory_org(db, "Example CDN", OrgKind.CDN, "US", domains=["cdn.test"])
    dns.set("img.example.test", "CNAME", "site.cdn.test")
    serve(dns, "site.cdn.test", NL_IP)

    outcome = run(tracer, db, clock, "img.example.test")

    assert cdn_of(outcome) == ("Example CDN", "directory", "site.cdn.test", cloudy.id)
    assert ("CNAME site.cdn.test", "Example CDN (cdn)", True) in evidence(outcome, "directory")


def test_a_cdn_is_recognised_by_an_address_of_a_directory_cdn(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    cloudy = directory_org(db, "Example CDN", OrgKind.CDN, "US", networks=["193.0.0.0/21"])
    serve(dns, "img.example.test", NL_IP)

    outcome = run(tracer, db, clock, "img.example.test")

    assert by_ip(outcome)[NL_IP].cdn == "Example CDN"
    assert cdn_of(outcome) == ("Example CDN", "directory", NL_IP, cloudy.id)


def test_origin_addresses_are_traced_and_are_where_the_content_is(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    hosting = directory_org(
        db, "Example Hosting DE", country="DE", asns=[ASN_DE], abuse_email="abuse@de.example"
    )
    dns.set("img.example.test", "CNAME", "example.map.fastly.net")
    serve(dns, "example.map.fastly.net", FASTLY_IP)
    origin_as(dns, DE_IP, ASN_DE, "5.9.0.0/16", "DE")

    outcome = run(tracer, db, clock, "img.example.test", origin=[DE_IP])

    assert [f.ip for f in outcome.data.addresses] == [FASTLY_IP]
    [origin] = outcome.data.origin
    assert origin.org is not None
    assert (origin.ip, origin.country, origin.asn, origin.org.id) == (
        DE_IP,
        "DE",
        ASN_DE,
        hosting.id,
    )
    [group] = outcome.data.hosting
    assert (group.country, group.addresses) == ("DE", [DE_IP])
    assert outcome.status is TraceStatus.COMPLETE
    assert "origin 5.9.1.1 (DE, AS64497, Example Hosting DE)" in outcome.summary


# The registered domain


def test_registry_by_tld_and_registrar_by_rdap(
    tracer: Tracer,
    dns: AuthoritativeDnsServer,
    rdap_server: RdapServer,
    db: Session,
    clock: FrozenClock,
) -> None:
    registry = directory_org(db, "Example Registry", OrgKind.REGISTRY, "US", tlds=["com"])
    registrar = directory_org(db, "Example Registrar, Inc.", OrgKind.REGISTRAR, "US")
    serve(dns, "www.example.com", NL_IP)

    outcome = run(tracer, db, clock, "www.example.com")

    domain = outcome.data.domain
    assert domain is not None
    assert (domain.registered_domain, domain.tld) == ("example.com", "com")
    assert domain.registry is not None
    assert domain.registry.id == registry.id
    assert domain.registrar is not None
    assert domain.registrar.id == registrar.id
    assert (domain.registrar_name, domain.registrar_iana_id, domain.registrar_abuse_email) == (
        "Example Registrar, Inc.",
        "9999",
        "abuse@registrar.example",
    )
    assert rdap_server.count("/domain/example.com") == 1
    assert ("registry of .com", "Example Registry", True) in evidence(outcome, "directory")
    assert ("domain example.com", "registrar Example Registrar, Inc.", True) in evidence(
        outcome, "rdap"
    )
    assert "example.com: Example Registrar, Inc.; .com: Example Registry" in outcome.summary


def test_a_registrar_outside_the_directory_is_named_by_rdap_only(
    tracer: Tracer, dns: AuthoritativeDnsServer, db: Session, clock: FrozenClock
) -> None:
    serve(dns, "www.example.com", NL_IP)

    outcome = run(tracer, db, clock, "www.example.com")

    domain = outcome.data.domain
    assert domain is not None
    assert (domain.registry, domain.registrar) == (None, None)
    assert domain.registrar_name == "Example Registrar, Inc."
    assert ("registry of .com", "not listed", True) in evidence(outcome, "directory")
