"""The public-address check that guards every fetch against SSRF."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest

from takedown.urls import is_public_address
from takedown.urls.addresses import NON_PUBLIC_IPV4, NON_PUBLIC_IPV6

NOT_PUBLIC = [
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, nothing binds to it
    ("0.255.255.255", "this network"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.0", "shared address space"),
    ("100.127.255.255", "shared address space"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local, cloud metadata"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.0.170", "NAT64 discovery"),
    ("192.0.2.1", "TEST-NET-1"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "TEST-NET-2"),
    ("203.0.113.200", "TEST-NET-3"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:10.1.2.3", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
    ("::127.0.0.1", "IPv4-compatible, deprecated"),
    ("::8.8.8.8", "IPv4-compatible, deprecated"),
    ("64:ff9b::127.0.0.1", "NAT64 of loopback"),
    ("64:ff9b::c0a8:101", "NAT64 of private"),
    ("64:ff9b:1::8.8.8.8", "local-use NAT64"),
    ("100::1", "discard-only"),
    ("2001::1", "Teredo"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "ORCHID"),
    ("2001:db8::1", "documentation"),
    ("2001:db8:ffff::1", "documentation"),
    ("2002:7f00:1::1", "6to4 of loopback"),
    ("2002:a00:1::", "6to4 of private"),
    ("3fff::1", "documentation"),
    ("5f00::1", "SRv6 SIDs"),
    ("fc00::1", "unique-local"),
    ("fd12:3456:789a::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local with zone"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("feff::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "global multicast"),
]

PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.255",
    "192.0.3.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
    "2001:200::1",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
]


@pytest.mark.parametrize(("address", "why"), NOT_PUBLIC, ids=[a for a, _ in NOT_PUBLIC])
def test_not_public(address: str, why: str) -> None:
    assert is_public_address(address) is False, why


@pytest.mark.parametrize("address", PUBLIC)
def test_public(address: str) -> None:
    assert is_public_address(address) is True


@pytest.mark.parametrize(
    ("network", "reason"), NON_PUBLIC_IPV4 + NON_PUBLIC_IPV6, ids=lambda n: str(n)
)
def test_every_listed_range_is_refused_at_both_ends(
    network: IPv4Network | IPv6Network, reason: str
) -> None:
    assert not is_public_address(network.network_address), reason
    assert not is_public_address(network.broadcast_address), reason


def test_address_objects_are_accepted() -> None:
    assert is_public_address(IPv4Address("8.8.8.8"))
    assert not is_public_address(IPv4Address("127.0.0.1"))
    assert is_public_address(IPv6Address("2606:4700:4700::1111"))
    assert not is_public_address(IPv6Address("::ffff:192.168.0.1"))


@pytest.mark.parametrize("text", ["", "localhost", "example.com", "1.2.3", "[::1]", "1.2.3.4:80"])
def test_non_addresses_raise(text: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        is_public_address(text)
