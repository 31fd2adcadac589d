"""DNS lookups and IP-to-ASN through dnspython, against the sandbox's server on loopback."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.tracing.dns import AsnOverDns, DnspythonLookup, asn_query_name
from takedown.tracing.interfaces import AsnRecord, DnsLookupError

# Registered as the dns_server and dns_lookup fixtures.
from .dns_support import ZONES, dns_lookup_fixture, dns_server_fixture, lookup_for  # noqa: F401


def test_every_a_and_aaaa_record_is_returned(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("www.example.test", "A", "192.0.2.1", "192.0.2.2", "192.0.2.3")
    dns_server.set("www.example.test", "AAAA", "2001:db8::1", "2001:db8::2")

    answer = dns_lookup.addresses("www.example.test")

    assert answer.host == "www.example.test"
    assert answer.a == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert answer.aaaa == ["2001:db8::1", "2001:db8::2"]
    assert answer.addresses == [*answer.a, *answer.aaaa]
    assert answer.rcode == "NOERROR"
    assert answer.cname_chain == []
    assert answer.server == dns_server.address


def test_the_whole_cname_chain_is_reported_in_order(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("www.example.test", "CNAME", "Site.CDN.test")
    dns_server.set("site.cdn.test", "CNAME", "edge-7.cdn.test.")
    dns_server.set("edge-7.cdn.test", "A", "192.0.2.7")
    dns_server.set("edge-7.cdn.test", "AAAA", "2001:db8::7")

    answer = dns_lookup.addresses("WWW.Example.Test.")

    assert answer.host == "www.example.test"
    assert answer.cname_chain == ["site.cdn.test", "edge-7.cdn.test"]
    assert answer.a == ["192.0.2.7"]
    assert answer.aaaa == ["2001:db8::7"]


def test_a_name_that_does_not_exist_is_an_nxdomain_answer(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    answer = dns_lookup.addresses("missing.example.test")

    assert (answer.rcode, answer.a, answer.aaaa) == ("NXDOMAIN", [], [])
    assert answer.server == dns_server.address
    # The name does not exist for any type, so AAAA is not asked.
    assert [query.rdtype for query in dns_server.received] == ["A"]


def test_nxdomain_at_the_end_of_a_chain_keeps_the_chain(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("old.example.test", "CNAME", "gone.cdn.test")

    answer = dns_lookup.addresses("old.example.test")

    assert answer.rcode == "NXDOMAIN"
    assert answer.cname_chain == ["gone.cdn.test"]


def test_a_name_without_addresses_is_an_empty_noerror_answer(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("mail.example.test", "TXT", "v=spf1 -all")

    answer = dns_lookup.addresses("mail.example.test")

    assert (answer.rcode, answer.a, answer.aaaa, answer.cname_chain) == ("NOERROR", [], [], [])


def test_a_cname_out_of_the_servers_zones_is_an_empty_answer_with_the_chain(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    # An authoritative server does not recurse: the client gets the CNAME and no address.
    dns_server.set("shop.example.test", "CNAME", "shops.elsewhere.test")

    answer = dns_lookup.addresses("shop.example.test")

    assert (answer.rcode, answer.cname_chain, answer.addresses) == (
        "NOERROR",
        ["shops.elsewhere.test"],
        [],
    )


def test_a_refused_query_is_a_lookup_error(dns_lookup: DnspythonLookup) -> None:
    with pytest.raises(DnsLookupError, match=r"'www\.elsewhere\.test' \(A\).*REFUSED"):
        dns_lookup.addresses("www.elsewhere.test")


def test_servfail_from_every_server_is_a_lookup_error(dns_server: AuthoritativeDnsServer) -> None:
    # A second server on another loopback address and the same port: the lookup asks both.
    with AuthoritativeDnsServer(ZONES, host="127.0.0.2", port=dns_server.port) as second:
        lookup = DnspythonLookup(["127.0.0.1", "127.0.0.2"], port=dns_server.port, timeout=2)
        dns_server.fail("www.example.test")
        second.set("www.example.test", "A", "192.0.2.1")

        assert lookup.addresses("www.example.test").server == second.address

        second.fail("www.example.test")
        with pytest.raises(DnsLookupError, match=r"'www\.example\.test' \(A\).*SERVFAIL") as error:
            lookup.addresses("www.example.test")

    assert "127.0.0.1" in str(error.value)
    assert "127.0.0.2" in str(error.value)


def test_large_answers_are_fetched_over_tcp(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    # 40 A records are about 700 bytes: more than the 512 a UDP answer without EDNS may have.
    many = [f"192.0.2.{n}" for n in range(1, 41)]
    dns_server.set("big.example.test", "A", *many)

    answer = dns_lookup.addresses("big.example.test")

    assert answer.a == many
    transports = [q.transport for q in dns_server.received if q.rdtype == "A"]
    assert transports == ["udp", "tcp"]


def test_a_server_that_never_answers_is_a_lookup_error_at_the_timeout(
    dns_server: AuthoritativeDnsServer,
) -> None:
    dns_server.blackhole("slow.example.test")
    lookup = lookup_for(dns_server, timeout=0.3)

    started = time.monotonic()
    with pytest.raises(DnsLookupError, match=r"no DNS answer for 'slow\.example\.test'.*0\.3 s"):
        lookup.addresses("slow.example.test")
    elapsed = time.monotonic() - started

    assert 0.25 <= elapsed < 1.5
    assert dns_server.queries >= 1


def test_a_closed_port_is_a_lookup_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lookup = DnspythonLookup(["127.0.0.1"], port=port, timeout=0.3)

    # dnspython's UDP sockets are not connected, so the ICMP "port unreachable" goes unseen
    # and this is a timeout, not a refusal; the caller sees the same error either way.

    with pytest.raises(DnsLookupError, match=r"'www\.example\.test'"):
        lookup.addresses("www.example.test")


def test_changed_records_are_seen_by_the_next_lookup(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("www.example.test", "A", "192.0.2.1")
    assert dns_lookup.addresses("www.example.test").a == ["192.0.2.1"]

    dns_server.set("www.example.test", "A", "198.51.100.9")
    assert dns_lookup.addresses("www.example.test").a == ["198.51.100.9"]

    dns_server.delete("www.example.test")
    assert dns_lookup.addresses("www.example.test").rcode == "NXDOMAIN"


def test_unicode_hosts_are_asked_in_their_idna_form(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("xn--bcher-kva.example.test", "A", "192.0.2.44")

    answer = dns_lookup.addresses("BÜCHER.example.test")

    assert answer.host == "xn--bcher-kva.example.test"
    assert answer.a == ["192.0.2.44"]
    assert dns_server.received[0].name == "xn--bcher-kva.example.test"


def test_an_ip_address_is_its_own_answer_without_a_query(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    assert dns_lookup.addresses("192.0.2.1").a == ["192.0.2.1"]
    assert dns_lookup.addresses("[2001:DB8::1]").aaaa == ["2001:db8::1"]
    assert dns_server.queries == 0


@pytest.mark.parametrize("host", ["", ".", "a" * 64 + ".example.test", "a..example.test"])
def test_names_that_cannot_be_asked_are_lookup_errors(
    dns_lookup: DnspythonLookup, host: str
) -> None:
    with pytest.raises(DnsLookupError):
        dns_lookup.addresses(host)


def test_txt_records_keep_spaces_and_bars(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    long_text = "x" * 300  # over 255 bytes: sent as two strings, read back as one
    dns_server.set("info.example.test", "TXT", "a | b |  c", "ünïcode text", long_text)

    assert dns_lookup.txt("info.example.test") == ["a | b |  c", "ünïcode text", long_text]
    assert dns_lookup.txt("missing.example.test") == []
    dns_server.set("info.example.test", "A", "192.0.2.1")
    dns_server.delete("info.example.test", "TXT")
    assert dns_lookup.txt("info.example.test") == []


def test_txt_times_out_as_a_lookup_error(dns_server: AuthoritativeDnsServer) -> None:
    dns_server.blackhole("info.example.test")

    with pytest.raises(DnsLookupError, match="no DNS answer"):
        lookup_for(dns_server, timeout=0.2).txt("info.example.test")


def test_nameservers_come_from_the_resolv_conf_given(
    dns_server: AuthoritativeDnsServer, tmp_path: Path
) -> None:
    dns_server.set("www.example.test", "A", "192.0.2.1")
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\nnameserver 127.0.0.1\n")

    lookup = DnspythonLookup(port=dns_server.port, timeout=2, resolv_conf=str(conf))

    assert lookup.nameservers == [dns_server.address]
    assert lookup.addresses("www.example.test").a == ["192.0.2.1"]
    # The search list is ignored: tracing asks for exactly the name it was given ("www.",
    # outside the server's zones), never www.example.test.
    with pytest.raises(DnsLookupError, match="REFUSED"):
        lookup.addresses("www")


def test_a_missing_resolv_conf_fails_each_lookup_not_the_constructor(tmp_path: Path) -> None:
    lookup = DnspythonLookup(resolv_conf=str(tmp_path / "absent.conf"))

    with pytest.raises(DnsLookupError, match=r"cannot look up 'www\.example\.test'.*absent"):
        lookup.addresses("www.example.test")
    with pytest.raises(DnsLookupError, match="no DNS server is configured"):
        lookup.txt("www.example.test")


def test_nameservers_must_be_addresses() -> None:
    with pytest.raises(ValueError, match=r"ns1\.example\.test"):
        DnspythonLookup(["ns1.example.test"])


@pytest.mark.parametrize(
    ("ip", "name"),
    [
        ("1.1.1.1", "1.1.1.1.origin.asn.cymru.com"),
        ("192.0.2.10", "10.2.0.192.origin.asn.cymru.com"),
        ("::ffff:192.0.2.10", "10.2.0.192.origin.asn.cymru.com"),
        ("2001:db8:1234:5678::1", "8.7.6.5.4.3.2.1.8.b.d.0.1.0.0.2.origin6.asn.cymru.com"),
        ("2606:4700::1111", "0.0.0.0.0.0.0.0.0.0.7.4.6.0.6.2.origin6.asn.cymru.com"),
    ],
)
def test_asn_query_names_follow_team_cymru(ip: str, name: str) -> None:
    assert asn_query_name(ip) == name


def test_asn_query_names_use_the_zones_given() -> None:
    assert asn_query_name("192.0.2.1", "v4.test.", "v6.test") == "1.2.0.192.v4.test"
    assert asn_query_name("2001:db8::", "v4.test", "v6.test").endswith(".2.v6.test")
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        asn_query_name("example.test")


def test_asn_origin_of_an_ipv4_address(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set(asn_query_name("1.1.1.1"), "TXT", "13335 | 1.1.1.0/24 | AU | apnic | 2011-08-11")

    assert AsnOverDns(dns_lookup).origin("1.1.1.1") == AsnRecord(
        asn=13335, prefix="1.1.1.0/24", country="AU", registry="apnic"
    )
    assert AsnOverDns(dns_lookup).origin("1.1.1.2") is None


def test_asn_origin_of_an_ipv6_address(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set(
        asn_query_name("2606:4700::6810:84e5"),
        "TXT",
        "13335 | 2606:4700::/32 | US | arin | 2011-11-01",
    )

    record = AsnOverDns(dns_lookup).origin("2606:4700::1111")

    assert record == AsnRecord(asn=13335, prefix="2606:4700::/32", country="US", registry="arin")


def test_asn_origin_takes_the_first_of_several_asns_and_the_longest_prefix(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set(
        asn_query_name("192.0.2.10"),
        "TXT",
        "64500 | 192.0.0.0/16 | NL | ripencc | 2001-01-01",
        "64510 64511 | 192.0.2.0/24 | nl | RIPENCC |",
        "64520 | 192.0.2.0/23 |  |  |",
    )

    assert AsnOverDns(dns_lookup).origin("192.0.2.10") == AsnRecord(
        asn=64510, prefix="192.0.2.0/24", country="NL", registry="ripencc"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64500", AsnRecord(asn=64500, prefix=None, country=None, registry=None)),
        ("64500 |  |  |  | ", AsnRecord(asn=64500, prefix=None, country=None, registry=None)),
        ("hello world", None),
        ("AS64500 | 192.0.2.0/24 | NL | ripencc | 2001-01-01", None),
        (" | 192.0.2.0/24 | NL | ripencc | 2001-01-01", None),
        ("0 | 192.0.2.0/24 | NL | ripencc |", None),
        ("4294967296 | 192.0.2.0/24 | NL | ripencc |", None),
        ("64500 | not a prefix | NL | ripencc |", None),
        ("٦٤٥٠٠ | 192.0.2.0/24 | NL | ripencc |", None),
    ],
)
def test_asn_answers_that_cannot_be_read_are_none(
    dns_server: AuthoritativeDnsServer,
    dns_lookup: DnspythonLookup,
    caplog: pytest.LogCaptureFixture,
    text: str,
    expected: AsnRecord | None,
) -> None:
    dns_server.set(asn_query_name("192.0.2.10"), "TXT", text)

    with caplog.at_level(logging.DEBUG, logger="takedown.tracing.dns"):
        assert AsnOverDns(dns_lookup).origin("192.0.2.10") == expected
    assert ("malformed" in caplog.text) == (expected is None)


def test_asn_lookup_failures_propagate(dns_server: AuthoritativeDnsServer) -> None:
    dns_server.blackhole(asn_query_name("192.0.2.10"))

    with pytest.raises(DnsLookupError, match=r"10\.2\.0\.192\.origin\.asn\.cymru\.com"):
        AsnOverDns(lookup_for(dns_server, timeout=0.2)).origin("192.0.2.10")


def test_asn_zones_are_configurable(
    dns_server: AuthoritativeDnsServer, dns_lookup: DnspythonLookup
) -> None:
    dns_server.set("1.2.0.192.asn.example.test", "TXT", "64500 | 192.0.2.0/24 | NL | ripencc |")
    asn = AsnOverDns(dns_lookup, zone4="asn.example.test", zone6="asn6.example.test")

    record = asn.origin("192.0.2.1")

    assert record is not None
    assert record.asn == 64500
