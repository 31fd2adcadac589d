"""The sandbox's authoritative DNS server, asked with plain dnspython queries on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from takedown.sandbox.dns import AuthoritativeDnsServer, ReceivedQuery


@pytest.fixture
def server() -> Iterator[AuthoritativeDnsServer]:
    with AuthoritativeDnsServer(["example.test", "Sub.Example.test", "cdn.test"]) as running:
        yield running


def ask(
    server: AuthoritativeDnsServer,
    name: str,
    rdtype: str = "A",
    *,
    tcp: bool = False,
    payload: int | None = None,
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if payload is not None:
        query.use_edns(0, payload=payload)
    if tcp:
        return dns.query.tcp(query, server.host, port=server.port, timeout=2)
    return dns.query.udp(query, server.host, port=server.port, timeout=2)


def rows(section: list[dns.rrset.RRset]) -> list[tuple[str, str, str]]:
    """(owner, type, value) for every record, in the order sent."""
    return [
        (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype), rdata.to_text())
        for rrset in section
        for rdata in rrset
    ]


def test_answers_are_authoritative_and_names_case_insensitive(
    server: AuthoritativeDnsServer,
) -> None:
    server.set("WWW.example.test", "a", "192.0.2.1", "192.0.2.2", "192.0.2.1", ttl=60)

    response = ask(server, "www.EXAMPLE.test")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert not response.flags & dns.flags.RA
    assert rows(response.answer) == [
        ("www.example.test.", "A", "192.0.2.1"),
        ("www.example.test.", "A", "192.0.2.2"),
    ]
    assert response.answer[0].ttl == 60
    assert server.received == [ReceivedQuery("www.example.test", "A", "udp")]


def test_names_outside_the_zones_are_refused(server: AuthoritativeDnsServer) -> None:
    response = ask(server, "www.example.org")

    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA
    assert response.answer == []


def test_unknown_names_are_nxdomain_with_the_zone_soa(server: AuthoritativeDnsServer) -> None:
    response = ask(server, "missing.cdn.test")

    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert [(owner, kind) for owner, kind, _ in rows(response.authority)] == [("cdn.test.", "SOA")]


def test_a_missing_type_is_nodata_with_the_soa_of_the_closest_zone(
    server: AuthoritativeDnsServer,
) -> None:
    server.set("www.sub.example.test", "A", "192.0.2.1")

    response = ask(server, "www.sub.example.test", "AAAA")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert rows(response.authority)[0][:2] == ("sub.example.test.", "SOA")


def test_a_name_with_only_children_exists(server: AuthoritativeDnsServer) -> None:
    server.set("a.b.example.test", "A", "192.0.2.1")

    assert ask(server, "b.example.test").rcode() == dns.rcode.NOERROR


def test_the_zone_apex_has_a_soa_whose_serial_follows_changes(
    server: AuthoritativeDnsServer,
) -> None:
    before = ask(server, "example.test", "SOA").answer[0][0].serial
    server.set("www.example.test", "A", "192.0.2.1")
    after = ask(server, "example.test", "SOA").answer[0][0].serial

    assert after > before
    assert ask(server, "example.test", "NS").answer == []


def test_cname_chains_in_the_servers_data_are_followed(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "CNAME", "site.cdn.test")
    server.set("site.cdn.test", "CNAME", "edge.cdn.test")
    server.set("edge.cdn.test", "A", "192.0.2.9")

    response = ask(server, "www.example.test")

    assert rows(response.answer) == [
        ("www.example.test.", "CNAME", "site.cdn.test."),
        ("site.cdn.test.", "CNAME", "edge.cdn.test."),
        ("edge.cdn.test.", "A", "192.0.2.9"),
    ]
    cname_only = ask(server, "www.example.test", "CNAME")
    assert rows(cname_only.answer) == [("www.example.test.", "CNAME", "site.cdn.test.")]


def test_a_cname_out_of_the_zones_is_returned_alone(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "CNAME", "www.example.org")

    response = ask(server, "www.example.test")

    assert response.rcode() == dns.rcode.NOERROR
    assert rows(response.answer) == [("www.example.test.", "CNAME", "www.example.org.")]
    assert response.authority == []


def test_a_cname_to_nothing_is_nxdomain_with_the_chain(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "CNAME", "gone.cdn.test")

    response = ask(server, "www.example.test")

    assert response.rcode() == dns.rcode.NXDOMAIN
    assert rows(response.answer) == [("www.example.test.", "CNAME", "gone.cdn.test.")]
    assert rows(response.authority)[0][:2] == ("cdn.test.", "SOA")


def test_a_cname_loop_ends(server: AuthoritativeDnsServer) -> None:
    server.set("a.example.test", "CNAME", "b.example.test")
    server.set("b.example.test", "CNAME", "a.example.test")

    response = ask(server, "a.example.test")

    assert [owner for owner, _, _ in rows(response.answer)] == [
        "a.example.test.",
        "b.example.test.",
    ]


def test_any_returns_every_type(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "A", "192.0.2.1")
    server.set("www.example.test", "TXT", "hello")

    assert {kind for _, kind, _ in rows(ask(server, "www.example.test", "ANY").answer)} == {
        "A",
        "TXT",
    }


def test_txt_values_are_sent_verbatim_and_long_ones_split(server: AuthoritativeDnsServer) -> None:
    server.set("info.example.test", "TXT", '13335 | 1.1.1.0/24 | "AU" | apnic', "y" * 300)

    strings = [rdata.strings for rdata in ask(server, "info.example.test", "TXT").answer[0]]

    assert strings == [(b'13335 | 1.1.1.0/24 | "AU" | apnic',), (b"y" * 255, b"y" * 45)]


def test_large_udp_answers_are_truncated_to_the_clients_limit(
    server: AuthoritativeDnsServer,
) -> None:
    many = [f"192.0.2.{n}" for n in range(1, 101)]
    server.set("big.example.test", "A", *many)
    query = dns.message.make_query("big.example.test", "A")
    query.use_edns(False)

    wire = dns.query.udp(query, server.host, port=server.port, timeout=2, ignore_trailing=True)
    small = ask(server, "big.example.test", payload=1232)
    large = ask(server, "big.example.test", payload=4096)
    over_tcp = ask(server, "big.example.test", tcp=True)

    assert wire.flags & dns.flags.TC
    assert len(wire.to_wire()) <= 512
    assert small.flags & dns.flags.TC
    assert not large.flags & dns.flags.TC
    assert [value for *_, value in rows(large.answer)] == many
    assert not over_tcp.flags & dns.flags.TC
    assert [value for *_, value in rows(over_tcp.answer)] == many


def test_tcp_connections_carry_several_queries(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "A", "192.0.2.1")
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        for _ in range(2):
            query = dns.message.make_query("www.example.test", "A")
            dns.query.send_tcp(sock, query)
            response, _ = dns.query.receive_tcp(sock, expiration=None)
            assert response.id == query.id
            assert rows(response.answer) == [("www.example.test.", "A", "192.0.2.1")]

    assert [query.transport for query in server.received] == ["tcp", "tcp"]


def test_malformed_datagrams_are_ignored(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "A", "192.0.2.1")
    query = dns.message.make_query("www.example.test", "A")
    junk = [
        b"",
        b"\x00",
        b"not dns at all, just text",
        # A response is not a query: answering it could start a loop between two servers.
        dns.message.make_response(dns.message.make_query("x.example.test", "A")).to_wire(),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        for datagram in [*junk, query.to_wire()]:
            sock.sendto(datagram, (server.host, server.port))
        # One thread reads datagrams in order, so the first reply is to the real query.
        reply = dns.message.from_wire(sock.recv(512))

    assert reply.id == query.id
    assert rows(reply.answer) == [("www.example.test.", "A", "192.0.2.1")]
    assert server.queries == 1


def test_a_malformed_tcp_query_closes_the_connection(server: AuthoritativeDnsServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(b"\x00\x05hello")
        assert sock.recv(512) == b""

    assert server.queries == 0
    assert ask(server, "www.example.test", tcp=True).rcode() == dns.rcode.NXDOMAIN


def test_other_opcodes_are_not_implemented(server: AuthoritativeDnsServer) -> None:
    query = dns.message.make_query("www.example.test", "A")
    query.set_opcode(dns.opcode.STATUS)

    response = dns.query.udp(query, server.host, port=server.port, timeout=2)

    assert response.rcode() == dns.rcode.NOTIMP


def test_a_blackholed_name_gets_no_answer_until_healed(server: AuthoritativeDnsServer) -> None:
    server.set("slow.example.test", "A", "192.0.2.1")
    server.blackhole("SLOW.example.test")
    query = dns.message.make_query("slow.example.test", "A")

    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(query, server.host, port=server.port, timeout=0.2)
    with pytest.raises(dns.exception.Timeout):
        dns.query.tcp(query, server.host, port=server.port, timeout=0.2)
    assert server.queries == 2

    server.heal("slow.example.test")
    assert ask(server, "slow.example.test").answer


def test_a_failing_name_answers_its_error_code(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "A", "192.0.2.1")
    server.fail("www.example.test")
    assert ask(server, "www.example.test").rcode() == dns.rcode.SERVFAIL

    server.fail("www.example.test", "REFUSED")
    assert ask(server, "www.example.test").rcode() == dns.rcode.REFUSED

    server.heal("www.example.test")
    assert ask(server, "www.example.test").rcode() == dns.rcode.NOERROR
    with pytest.raises(ValueError, match="not a DNS response code"):
        server.fail("www.example.test", "BOGUS")


def test_records_are_replaced_and_deleted(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "A", "192.0.2.1")
    server.set("www.example.test", "AAAA", "2001:db8::1")
    server.set("www.example.test", "A", "198.51.100.1")

    assert rows(ask(server, "www.example.test").answer) == [
        ("www.example.test.", "A", "198.51.100.1")
    ]
    server.delete("www.example.test", "A")
    assert ask(server, "www.example.test").answer == []
    assert ask(server, "www.example.test", "AAAA").answer
    server.delete("www.example.test")
    assert ask(server, "www.example.test", "AAAA").rcode() == dns.rcode.NXDOMAIN
    server.delete("never.example.test")


def test_unicode_names_are_stored_in_idna_form(server: AuthoritativeDnsServer) -> None:
    server.set("bücher.example.test", "CNAME", "bücher.cdn.test")

    assert rows(ask(server, "xn--bcher-kva.example.test").answer) == [
        ("xn--bcher-kva.example.test.", "CNAME", "xn--bcher-kva.cdn.test.")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("www.example.org", "A", "192.0.2.1"), "in none of this server's zones"),
        (("www.example.test", "A", "not-an-address"), "not a valid A value"),
        (("www.example.test", "AAAA", "192.0.2.1"), "not a valid AAAA value"),
        (("www.example.test", "MX", "10 mail.example.test"), "not supported"),
        (("www.example.test", "SOA", "x"), "not supported"),
        (("www.example.test", "A"), "at least one value"),
        (("www.example.test", "CNAME", "a.example.test", "b.example.test"), "exactly one"),
        (("www..example.test", "A", "192.0.2.1"), "not a valid DNS name"),
    ],
)
def test_invalid_records_are_refused(
    server: AuthoritativeDnsServer, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        server.set(*args)


def test_a_cname_cannot_share_its_name(server: AuthoritativeDnsServer) -> None:
    server.set("www.example.test", "A", "192.0.2.1")
    with pytest.raises(ValueError, match="CNAME and other records"):
        server.set("www.example.test", "CNAME", "edge.cdn.test")

    server.delete("www.example.test")
    server.set("www.example.test", "CNAME", "edge.cdn.test")
    server.set("www.example.test", "CNAME", "other.cdn.test")
    with pytest.raises(ValueError, match="CNAME and other records"):
        server.set("www.example.test", "TXT", "hello")


def test_stopping_closes_both_sockets() -> None:
    server = AuthoritativeDnsServer(["example.test"]).start()
    port, address = server.port, server.address
    with socket.create_connection(("127.0.0.1", port), timeout=2) as idle:
        # One exchange first, so the server has accepted the connection and serves it.
        dns.query.send_tcp(idle, dns.message.make_query("www.example.test", "A"))
        dns.query.receive_tcp(idle, expiration=None)
        server.stop()
        server.stop()
        # The idle connection is shut down rather than left to its timeout.
        assert idle.recv(512) == b""

    assert address == f"127.0.0.1:{port}"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))  # free again


def test_a_server_needs_a_zone_and_a_start() -> None:
    with pytest.raises(ValueError, match="at least one zone"):
        AuthoritativeDnsServer([])
    with pytest.raises(RuntimeError, match="not started"):
        _ = AuthoritativeDnsServer(["example.test"]).port


def test_it_serves_ipv6_loopback() -> None:
    try:
        server = AuthoritativeDnsServer(["example.test"], host="::1").start()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    with server:
        server.set("www.example.test", "AAAA", "2001:db8::1")

        response = ask(server, "www.example.test", "AAAA", tcp=True)

        assert server.address == f"[::1]:{server.port}"
        assert rows(response.answer) == [("www.example.test.", "AAAA", "2001:db8::1")]
