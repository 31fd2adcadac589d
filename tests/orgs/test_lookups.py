"""What tracing asks the directory: who holds an address, an AS, a domain, a TLD, a name."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from takedown.errors import ValidationFailed
from takedown.orgs import service as orgs
from takedown.orgs.models import OrgKind

from .support import ASN_A, ASN_B, NET6_A, NET_A, directory_org


@pytest.mark.parametrize(
    ("ip", "holder"),
    [
        ("192.0.2.0", "A"),
        ("192.0.2.255", "A"),
        ("192.0.1.255", None),
        ("192.0.3.0", "B"),  # the neighbouring range starts right after
        ("192.0.3.127", "B"),
        ("192.0.3.128", None),
        ("::ffff:192.0.2.9", "A"),  # IPv4-mapped IPv6 is the IPv4 address
        ("2001:db8::", "A"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "A"),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001:db9::", None),
        ("2001:DB9:0:0:0:0:0:1", "B"),
        ("203.0.113.7", "B"),
        ("203.0.113.8", None),
        ("10.0.0.1", None),
    ],
)
def test_org_for_ip_at_range_edges(db: Session, ip: str, holder: str | None) -> None:
    directory_org(db, "A", networks=[NET_A, NET6_A])
    directory_org(db, "B", networks=["192.0.3.0/25", "2001:db9::1/128", "203.0.113.7/32"])
    found = orgs.org_for_ip(db, ip)
    assert (found.name if found else None) == holder


def test_lookup_ip_names_the_network_and_refuses_non_addresses(db: Session) -> None:
    org = directory_org(db, networks=[NET_A])
    found = orgs.lookup_ip(db, "192.0.2.77")
    assert found is not None
    assert (found.network, found.org) == (NET_A, org)
    with pytest.raises(ValidationFailed, match=r"'example\.net' is not an IP address"):
        orgs.lookup_ip(db, "example.net")


def test_org_for_asn(db: Session) -> None:
    org = directory_org(db, asns=[ASN_A])
    assert orgs.org_for_asn(db, ASN_A) == org
    assert orgs.org_for_asn(db, ASN_B) is None
    assert orgs.org_for_asn(db, 0) is None
    assert orgs.org_for_asn(db, 2**40) is None


@pytest.mark.parametrize(
    ("name", "holder"),
    [
        ("cdn.example", "Wide"),
        ("a.b.cdn.example", "Wide"),
        ("EDGE.CDN.Example.", "Narrow"),
        ("x.y.edge.cdn.example", "Narrow"),
        ("notcdn.example", None),  # a suffix only counts at a label boundary
        ("example", None),
        ("bücher.example", "IDN"),
        ("www.xn--bcher-kva.example", "IDN"),
        ("under_score.cdn.example", "Wide"),
    ],
)
def test_org_for_domain_takes_the_longest_match(db: Session, name: str, holder: str | None) -> None:
    directory_org(db, "Wide", OrgKind.CDN, domains=["cdn.example"])
    directory_org(db, "Narrow", OrgKind.CDN, domains=["edge.cdn.example"])
    directory_org(db, "IDN", domains=["bücher.example"])
    found = orgs.org_for_domain(db, name)
    assert (found.name if found else None) == holder


@pytest.mark.parametrize(
    ("tld", "holder"),
    [
        ("com", "Com"),
        ("COM", "Com"),
        (".com", "Com"),
        ("co.uk", "UK 2"),
        ("uk", "UK"),
        ("рф", "RF"),
    ],
)
def test_registry_for_tld(db: Session, tld: str, holder: str) -> None:
    directory_org(db, "Com", OrgKind.REGISTRY, "US", tlds=["com"])
    directory_org(db, "UK", OrgKind.REGISTRY, "GB", tlds=["uk"])
    directory_org(db, "UK 2", OrgKind.REGISTRY, "GB", tlds=["co.uk"])
    directory_org(db, "RF", OrgKind.REGISTRY, "RU", tlds=["xn--p1ai"])
    found = orgs.registry_for_tld(db, tld)
    assert found is not None
    assert found.name == holder
    assert orgs.registry_for_tld(db, "net") is None


def test_find_org_ignores_case_and_filters_by_kind(db: Session) -> None:
    cdn = directory_org(db, "Example CDN", OrgKind.CDN)
    assert orgs.find_org(db, "example cdn") == cdn
    assert orgs.find_org(db, " EXAMPLE CDN ", kind=OrgKind.CDN) == cdn
    assert orgs.find_org(db, "Example CDN", kind=OrgKind.REGISTRAR) is None
    assert orgs.find_org(db, "Example") is None


def test_identifiers_sort_networks_by_address(db: Session) -> None:
    org = directory_org(db, networks=["10.0.0.0/8", "9.0.0.0/8", NET6_A], asns=[100, 20])
    ids = orgs.identifiers(db, org)
    assert ids.networks == ("9.0.0.0/8", "10.0.0.0/8", NET6_A)
    assert ids.asns == (20, 100)


def test_search_filters_and_pages(db: Session) -> None:
    directory_org(db, "Hotline DE", OrgKind.HOTLINE, "DE", countries=["DE", "AT"])
    directory_org(db, "Police AT", OrgKind.POLICE, "AT")
    directory_org(db, "Alpha 100%_sure", OrgKind.HOSTING_PROVIDER, "NL")
    directory_org(db, "Beta 1000 sure", OrgKind.HOSTING_PROVIDER, "NL")

    def names(**filters: object) -> list[str]:
        rows, total = orgs.search_orgs(db, **filters)  # type: ignore[arg-type]
        assert total == len(rows)
        return [org.name for org in rows]

    assert names(country="at") == ["Hotline DE", "Police AT"]  # based in, or serving
    assert names(kind=OrgKind.HOSTING_PROVIDER) == ["Alpha 100%_sure", "Beta 1000 sure"]
    assert names(q="100%_") == ["Alpha 100%_sure"]  # % and _ are literal
    assert names(q="SURE") == ["Alpha 100%_sure", "Beta 1000 sure"]
    page, total = orgs.search_orgs(db, limit=2, offset=1)
    assert total == 4
    assert [org.name for org in page] == ["Beta 1000 sure", "Hotline DE"]
