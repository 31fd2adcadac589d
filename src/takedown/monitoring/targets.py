"""One hop's URL as the guard sees it: scheme checked, host canonical, port explicit.

Hosts go through :func:`takedown.urls.hosts.canonical_host`, the same code that keys cases, so
every spelling of an address (``0x7f000001``, ``2130706433``, ``[::ffff:127.0.0.1]``) is seen as
the address it is and never handed to DNS, and ``allow_hosts`` entries compare equal to URL
hosts however either is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from takedown.errors import ConfigurationError, InvalidURL
from takedown.monitoring.errors import BadResponse, UnsupportedScheme
from takedown.urls.canonical import MAX_URL_LENGTH
from takedown.urls.hosts import canonical_host

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Target:
    """One hop's URL, split into what the guard checks and what the connection needs."""

    url: httpx.URL
    host: str  # canonical: lowercase ASCII name or IP address without brackets
    port: int
    is_ip: bool

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the name (or address), with the port only when not default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.url.scheme] else f"{host}:{self.port}"


def parse_url_to_fetch(url: str) -> httpx.URL:
    """Parse a URL to fetch; only http(s) with a host."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise InvalidURL(f"cannot fetch {url!r}: {exc}") from None
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
    raw = url.raw_host
    host, is_ip = canonical_host(b"[" + raw + b"]" if b":" in raw else raw)
    text = host.decode("ascii").strip("[]")
    clean = url.copy_with(username=None, password=None, fragment=None)
    return Target(clean, text, url.port or DEFAULT_PORTS[url.scheme], is_ip)


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
