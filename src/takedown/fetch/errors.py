"""Why a fetch was refused or failed, as subclasses of the package's one exception tree.

    TakedownError
    └── FetchError                      502  the fetch did not produce a usable response
        ├── FetchRefused                403  refused by policy before any connection was made
        │   ├── UnsupportedScheme       403  not http(s), first URL or a redirect
        │   └── NonPublicAddress        403  the host is, or resolves to, a non-public address
        ├── DNSFailure                  502  the host did not resolve (or took too long)
        ├── ConnectionFailed            502  no pinned address accepted the connection (or TLS)
        ├── FetchTimeout                504  connect, read or total time limit reached
        ├── TooManyRedirects            502  more redirects than allowed
        ├── BadResponse                 502  broken HTTP, bad redirect location, unknown encoding
        ├── ResponseTooLarge            413  more bytes than the byte limit (also a PayloadTooLarge)
        └── UnsupportedContentType      415  a content type outside the allow-list (also an
                                             UnsupportedMediaType)

Every error carries the URL it is about in ``extra["url"]``, so a case timeline can say which
hop of a redirect chain failed.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

from takedown.errors import Forbidden, PayloadTooLarge, TakedownError, UnsupportedMediaType
from takedown.urls.addresses import NON_PUBLIC_IPV4, NON_PUBLIC_IPV6


class FetchError(TakedownError):
    """Base of every reason why a URL could not be fetched."""

    status_code = 502
    title = "Fetch failed"


class FetchRefused(Forbidden, FetchError):
    """The fetcher refused the URL by policy; nothing was sent to the host."""

    status_code = 403
    title = "Fetch refused"


class UnsupportedScheme(FetchRefused):
    title = "Unsupported URL scheme"


class NonPublicAddress(FetchRefused):
    title = "Non-public address"


class DNSFailure(FetchError):
    title = "DNS lookup failed"


class ConnectionFailed(FetchError):
    title = "Connection failed"


class FetchTimeout(FetchError):
    status_code = 504
    title = "Fetch timed out"


class TooManyRedirects(FetchError):
    title = "Too many redirects"


class BadResponse(FetchError):
    title = "Bad response"


class ResponseTooLarge(PayloadTooLarge, FetchError):
    title = "Response too large"


class UnsupportedContentType(UnsupportedMediaType, FetchError):
    title = "Unsupported content type"


_LINK_LOCAL_V6 = IPv6Network("fe80::/10")
_UNIQUE_LOCAL_V6 = IPv6Network("fc00::/7")


def non_public_reason(address: str) -> str:
    """Say in a few words why ``address`` is not public, for error messages.

    Uses the same tables as :func:`takedown.urls.is_public_address`, so the reason given is the
    rule that refused the address; IPv6 outside 2000::/3 is named by its best-known range.
    """
    ip = ip_address(address)
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, IPv4Address):
        return next((why for net, why in NON_PUBLIC_IPV4 if ip in net), "not public")
    if ip.scope_id:
        return "scoped to a local interface"
    for net, why in NON_PUBLIC_IPV6:
        if ip in net:
            return why
    if ip.is_loopback:
        return "loopback (RFC 4291)"
    if ip.is_unspecified:
        return "unspecified (RFC 4291)"
    if ip in _LINK_LOCAL_V6:
        return "link-local (RFC 4291)"
    if ip in _UNIQUE_LOCAL_V6:
        return "unique local, private (RFC 4193)"
    if ip.is_multicast:
        return "multicast (RFC 4291)"
    return "outside global unicast or embedding a non-public IPv4 address"
