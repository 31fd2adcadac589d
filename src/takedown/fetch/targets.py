"""One hop's URL as the guard sees it: scheme checked, host canonical, port explicit.

Hosts go through :func:`takedown.urls.hosts.canonical_host`, the same code that keys cases, so
every spelling of an address (``0x7f000001``, ``2130706433``, ``[::ffff:127.0.0.1]``) is seen as
the address it is and never handed to DNS, and ``allow_hosts`` entries compare equal to URL
hosts however either is written.
"""

from __future__ import annotations

from collections.abc import Collection

import httpx

from takedown.errors import ConfigurationError, InvalidURL
from takedown.fetch.errors import (
    BadResponse,
    NonPublicAddress,
    UnsupportedScheme,
    non_public_reason,
)
from takedown.fetch.resolver import Resolver
from takedown.urls import is_public_address
from takedown.urls.fetchable import DEFAULT_PORTS, FetchTarget, fetch_target, parse_fetch_url
from takedown.urls.hosts import canonical_host

# One hop's URL: the same type intake's check returns, so what intake accepts is what we fetch.
Target = FetchTarget


def parse_url_to_fetch(url: str) -> httpx.URL:
    """Parse a URL to fetch (see :func:`takedown.urls.fetchable.parse_fetch_url`); http(s) only."""
    parsed = parse_fetch_url(url)
    check_scheme(parsed, url)
    return parsed


def redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    """The URL a Location header points to, relative to the current one."""
    try:
        target = current.join(location.strip())
    except httpx.InvalidURL as exc:
        raise BadResponse(
            f"{current} redirected to an invalid location {location!r}: {exc}", url=str(current)
        ) from None
    check_scheme(target, str(current))
    try:
        fetch_target(target)
    except InvalidURL as exc:
        # The server's mistake, not the report's: a fetch failure the capture records.
        raise BadResponse(
            f"{current} redirected to a location that cannot be fetched: {exc.message}",
            url=str(current),
        ) from None
    return target


def check_scheme(url: httpx.URL, context: str) -> None:
    """Refuse anything but http(s) with a host; ``context`` is the URL that led here."""
    if url.scheme not in DEFAULT_PORTS:
        where = "" if str(url) == context else f" (redirected from {context})"
        raise UnsupportedScheme(
            f"refused to fetch {str(url)[:200]!r}{where}: only http and https URLs are fetched",
            url=context,
            scheme=url.scheme,
        )
    if not url.host:
        raise InvalidURL(f"cannot fetch {str(url)[:200]!r}: the URL has no host")


def target_of(url: httpx.URL) -> Target:
    """Canonicalize the host; drop userinfo (never sent as credentials) and the fragment."""
    return fetch_target(url)


def allow_entry(entry: str) -> tuple[str, int | None]:
    """Parse an ``allow_hosts`` entry: ``name``, ``name:port``, ``1.2.3.4:80``, ``[::1]:8080``."""
    text = entry.strip().lower()
    port: str | None = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigurationError(f"invalid allow_hosts entry {entry!r}")
        port = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host = text
    try:
        canonical, _ = canonical_host((f"[{host}]" if ":" in host else host).encode())
    except InvalidURL as exc:
        raise ConfigurationError(f"invalid allow_hosts entry {entry!r}: {exc}") from None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigurationError(f"invalid port in allow_hosts entry {entry!r}")
    return canonical.decode("ascii").strip("[]"), None if port is None else int(port)


def checked_addresses(
    target: Target,
    resolver: Resolver,
    allow: Collection[tuple[str, int | None]],
    timeout: float,
) -> list[str]:
    """The addresses to connect to for ``target``: all public, or the host is allow-listed.

    ``allow`` holds ``allow_entry`` results; ``timeout`` bounds the DNS lookup. The answer is
    what the caller connects to (pinned), so nothing is looked up again between the check and
    the connection.
    """
    addresses = [target.host] if target.is_ip else resolver.resolve(target.host, timeout=timeout)
    if (target.host, None) in allow or (target.host, target.port) in allow:
        return addresses
    for address in addresses:
        if not is_public_address(address):
            # One bad answer refuses the host: connecting to "the public one" would let an
            # attacker add a private address and win whenever the order favours it.
            via = "is" if target.is_ip else f"resolves to {address}, which is"
            raise NonPublicAddress(
                f"refused to fetch {target.url}: {target.host} {via} not a public address "
                f"({non_public_reason(address)})",
                url=str(target.url),
                host=target.host,
                address=address,
            )
    return addresses


def pinned_request(
    method: str,
    target: Target,
    address: str,
    *,
    headers: dict[str, str],
    timeout: httpx.Timeout,
    content: bytes | None = None,
) -> httpx.Request:
    """A request for ``target`` whose TCP connection goes to the checked ``address``.

    TLS server name and certificate check stay with the name while the connection goes to
    the pinned address; an IP literal is checked against the certificate's IP addresses, as
    usual. ``headers`` must carry ``Host`` (``Target.host_header``).
    """
    extensions: dict[str, object] = {"timeout": timeout.as_dict()}
    if not target.is_ip:
        extensions["sni_hostname"] = target.host
    pinned = target.url.copy_with(host=address)
    return httpx.Request(method, pinned, headers=headers, content=content, extensions=extensions)
