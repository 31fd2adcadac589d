"""Is an IP address on the public internet? The core check of the SSRF guard.

Takedown fetches reported URLs; a report must never make it fetch from its own network. An
address is public only when nothing below says otherwise. The tables follow the IANA IPv4 and
IPv6 Special-Purpose Address Registries, stricter where a range is technically reachable but
can never hold content we should fetch (documentation, benchmarking, the deprecated 6to4 relay
anycast, all of 192.0.0.0/24 and 2001::/23). IPv6 is an allow list: only 2000::/3 is allocated
for global unicast, so everything outside it (unique-local, link-local, site-local, multicast,
discard, the local NAT64 prefix, IPv4-compatible ...) is refused without needing its own row.
Addresses that embed an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4) are as public as
the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

NON_PUBLIC_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "this network, unspecified (RFC 791, RFC 1122)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space, carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback (RFC 1122)"),
        ("169.254.0.0/16", "link-local, cloud metadata services (RFC 3927)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"),
        ("203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"),
        ("224.0.0.0/4", "multicast (RFC 5771)"),
        ("240.0.0.0/4", "reserved, and the limited broadcast address (RFC 1112, RFC 919)"),
    )
)

GLOBAL_UNICAST_IPV6 = IPv6Network("2000::/3")

# Ranges inside 2000::/3 that are still not public; 2002::/16 (6to4) is judged by its IPv4.
NON_PUBLIC_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("2001::/23", "IETF protocol assignments: Teredo, benchmarking, ORCHID (RFC 2928)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("3fff::/20", "documentation (RFC 9637)"),
    )
)

_IPV4_RANGES = tuple((int(n.network_address), int(n.netmask)) for n, _ in NON_PUBLIC_IPV4)
_IPV6_RANGES = tuple((int(n.network_address), int(n.netmask)) for n, _ in NON_PUBLIC_IPV6)
_IPV4_MAPPED = 0xFFFF  # ::ffff:0:0/96, as the top 96 bits
_NAT64 = int(IPv6Address("64:ff9b::")) >> 32  # 64:ff9b::/96 (RFC 6052), the top 96 bits
_SIX_TO_FOUR = 0x2002  # 2002::/16 (RFC 3056), the top 16 bits


def is_public_address(ip: str | IPv4Address | IPv6Address) -> bool:
    """Return True only if ``ip`` is a globally reachable unicast address we may fetch from.

    Raises ValueError when ``ip`` is a string that is not an IP address.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, IPv4Address):
        return _ipv4_is_public(int(address))
    return _ipv6_is_public(address)


def _ipv4_is_public(value: int) -> bool:
    return all(value & mask != network for network, mask in _IPV4_RANGES)


def _ipv6_is_public(address: IPv6Address) -> bool:
    if address.scope_id:
        # A zone index ties the address to one local link or site of this machine.
        return False
    value = int(address)
    if value >> 32 in (_IPV4_MAPPED, _NAT64):
        return _ipv4_is_public(value & 0xFFFFFFFF)
    if value >> 112 == _SIX_TO_FOUR:
        return _ipv4_is_public((value >> 80) & 0xFFFFFFFF)
    if address not in GLOBAL_UNICAST_IPV6:
        return False
    return all(value & mask != network for network, mask in _IPV6_RANGES)
