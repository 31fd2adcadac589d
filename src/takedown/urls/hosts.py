"""Host canonicalization for Safe Browsing URLs: ports, IPv4 in any encoding, IPv6 and IDN.

Hosts arrive here as bytes, already percent-unescaped, and leave as canonical bytes that the
caller percent-escapes. Working on bytes rather than text is what lets a host that is not valid
UTF-8 (the published ``http://\\x01\\x80.com/`` vector) pass through unchanged, as Safe Browsing
requires.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import idna

from takedown.errors import InvalidURL

MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63

_DOTS = re.compile(rb"\.{2,}")
# WHATWG's forbidden host code points, minus those the Safe Browsing vectors require us to keep
# (space, '#', control characters and '%' all appear in published canonical hosts).
_FORBIDDEN = re.compile(rb"[\x00:<>\[\]\\^|]")
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_OCT_DIGITS = b"01234567"
# The well-known NAT64 prefix 64:ff9b::/96 (RFC 6052), as the top 96 bits of an address.
_NAT64_PREFIX = int(ipaddress.IPv6Address("64:ff9b::")) >> 32
_IPV4_MAPPED_PREFIX = 0xFFFF


def _show(raw: bytes) -> str:
    """Render raw host bytes for an error message without failing on bad UTF-8."""
    return raw.decode("utf-8", "backslashreplace")


def split_host_port(authority: bytes) -> tuple[bytes, int | None]:
    """Split ``userinfo@host:port`` into the raw host and the explicit port, if any.

    The userinfo is dropped at the *last* ``@``, as browsers do, so ``a@b@host`` names ``host``.
    """
    host = authority.rpartition(b"@")[2]
    if host.startswith(b"["):
        end = host.find(b"]")
        if end < 0:
            raise InvalidURL("IPv6 address in the host is missing its closing ']'")
        rest = host[end + 1 :]
        host = host[: end + 1]
        if rest and not rest.startswith(b":"):
            raise InvalidURL(f"unexpected text after the IPv6 address: {_show(rest)!r}")
        port = rest[1:]
    elif b":" in host:
        if host.count(b":") > 1:
            raise InvalidURL(
                f"the host {_show(host)!r} has several ':'; IPv6 addresses must be in brackets"
            )
        host, _, port = host.rpartition(b":")
    else:
        return host, None
    if not port:
        # "http://host:/" is legal and means the default port (RFC 3986 section 3.2.3).
        return host, None
    # The length test keeps int() away from thousands of digits (and its ValueError).
    if not port.isdigit() or len(port.lstrip(b"0")) > 5 or int(port) > 65535:
        raise InvalidURL(f"invalid port {_show(port)!r}: a port is a number from 0 to 65535")
    return host, int(port)


def canonical_host(host: bytes) -> tuple[bytes, bool]:
    """Return the canonical form of a raw host and whether it is an IP address.

    IPv6 hosts keep their brackets; IPv4-mapped and NAT64 IPv6 addresses become the IPv4
    address they embed (Safe Browsing v5), so every spelling of one IPv4 host gives one key.
    """
    if host.startswith(b"["):
        return _ipv6_host(host[1:-1])
    host = _strip_dots(host)
    if not host.isascii():
        host = _strip_dots(_to_ascii(host))
    if not host:
        raise InvalidURL("the URL has no host")
    ipv4 = _parse_ipv4(host)
    if ipv4 is not None:
        return ipv4, True
    host = host.lower()
    _check_host(host)
    return host, False


def _strip_dots(host: bytes) -> bytes:
    if b".." in host:
        host = _DOTS.sub(b".", host)
    return host.strip(b".")


def _check_host(host: bytes) -> None:
    bad = _FORBIDDEN.search(host)
    if bad is not None:
        char = bad.group().decode("ascii")
        hint = "; IPv6 addresses must be written in brackets" if char == ":" else ""
        raise InvalidURL(f"the host {_show(host)!r} contains the invalid character {char!r}{hint}")
    if len(host) > MAX_HOST_LENGTH:
        raise InvalidURL(f"the host is longer than {MAX_HOST_LENGTH} characters")
    if len(host) > MAX_LABEL_LENGTH and any(
        len(label) > MAX_LABEL_LENGTH for label in host.split(b".")
    ):
        raise InvalidURL(f"a label of the host is longer than {MAX_LABEL_LENGTH} characters")


def _ipv6_host(inner: bytes) -> tuple[bytes, bool]:
    if b"%" in inner:
        # A zone index names an interface of the machine reading the URL; it is never part of
        # an address on the internet.
        raise InvalidURL("IPv6 zone identifiers are not allowed in URLs")
    try:
        address = ipaddress.IPv6Address(inner.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidURL(f"invalid IPv6 address {_show(inner)!r}") from None
    value = int(address)
    if value >> 32 in (_IPV4_MAPPED_PREFIX, _NAT64_PREFIX):
        return str(ipaddress.IPv4Address(value & 0xFFFFFFFF)).encode("ascii"), True
    return b"[" + address.compressed.encode("ascii") + b"]", True


def _parse_ipv4(host: bytes) -> bytes | None:
    """Return dotted decimal if the host is an IPv4 address in any legal encoding, else None.

    Follows the WHATWG rule: a host whose last label is a number (decimal, octal or 0x-hex) must
    be an IPv4 address, so ``1.2.3.256`` or ``a.1`` is refused instead of being looked up in DNS.
    """
    last = host.rpartition(b".")[2]
    if not (last.isdigit() or (last[:2] in (b"0x", b"0X") and _is_hex(last[2:]))):
        return None
    parts = host.split(b".")
    if len(parts) > 4:
        raise InvalidURL(f"the host {_show(host)!r} is not a valid IPv4 address")
    values = [_ipv4_number(part, host) for part in parts]
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(parts)):
        raise InvalidURL(f"the IPv4 address {_show(host)!r} is out of range")
    number = values[-1]
    for i, v in enumerate(values[:-1]):
        number += v << (8 * (3 - i))
    return b"%d.%d.%d.%d" % (number >> 24, (number >> 16) & 255, (number >> 8) & 255, number & 255)


def _is_hex(digits: bytes) -> bool:
    return not digits.translate(None, _HEX_DIGITS)


def _ipv4_number(part: bytes, host: bytes) -> int:
    if part[:2] in (b"0x", b"0X"):
        digits, base, valid = part[2:], 16, _is_hex(part[2:])
    elif len(part) > 1 and part.startswith(b"0"):
        digits, base, valid = part[1:], 8, not part.translate(None, _OCT_DIGITS)
    else:
        digits, base, valid = part, 10, part.isdigit()
    if not valid:
        raise InvalidURL(f"the host {_show(host)!r} is not a valid IPv4 address")
    digits = digits.lstrip(b"0")
    if len(digits) > 11:
        # Out of range whatever the base; also keeps int() away from huge digit strings.
        return 1 << 32
    return int(digits, base) if digits else 0


# idna is pure Python (~10 us a name) and reported hosts repeat, so conversions are memoized.
@lru_cache(maxsize=4096)
def _to_ascii(host: bytes) -> bytes:
    """Convert an internationalized host to punycode (UTS #46), leniently.

    The idna package applies IDNA 2008, which refuses names that browsers still resolve
    (emoji, underscores next to a Unicode label). A refused label is punycoded after the UTS #46
    mapping when it holds only printable characters; otherwise its raw bytes are kept and end up
    percent-escaped, which is what Safe Browsing does with a host that is not a valid name.
    """
    try:
        text = host.decode("utf-8")
    except UnicodeDecodeError:
        return host
    try:
        return idna.encode(text, uts46=True)
    except idna.IDNAError:
        return b".".join(_label_to_ascii(label) for label in text.split("."))


def _label_to_ascii(label: str) -> bytes:
    if label.isascii():
        return label.encode("ascii")
    try:
        return idna.encode(label, uts46=True)
    except idna.IDNAError:
        pass
    if not label.isprintable() or " " in label:
        return label.encode("utf-8")
    try:
        mapped = idna.uts46_remap(label, std3_rules=False)
    except idna.IDNAError:
        mapped = label.lower()
    if mapped.isascii():
        return mapped.encode("ascii")
    return b"xn--" + mapped.encode("punycode")
