"""The one definition of a URL Takedown accepts: a case key AND something the fetcher can fetch.

Safe Browsing canonicalization (:mod:`takedown.urls.canonical`) is deliberately forgiving: it
drops TAB/CR/LF, reads ``http:///host`` as ``http://host`` and keeps hosts no DNS name has.
That is right for a *key*, but a URL that only canonicalizes is not one the capture job can
fetch: httpx (the fetcher's client) refuses control characters and hosts its IDNA codec cannot
encode, and a host with a space or a ``%`` never resolves. Intake used to accept such URLs and
their capture job died, leaving the case where nobody looked.

So both intake and the fetcher go through :func:`fetch_target`, which parses with the same
``httpx.URL`` that builds the fetch request, and intake additionally requires
(:func:`accept_url`) that the canonical key and the fetch target agree on scheme, host and
port: otherwise a URL such as ``http://evil.example\\@good.example/`` would key a case on one
host while its capture fetched another.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import httpx

from takedown.errors import InvalidURL
from takedown.urls.canonical import MAX_URL_LENGTH, CanonicalURL, parse_url
from takedown.urls.hosts import MAX_HOST_LENGTH, canonical_host

DEFAULT_PORTS = {"http": 80, "https": 443}
# What surrounds a pasted URL and is dropped, as browsers do; inside the URL it is refused.
_SURROUNDING = " \t\r\n\f\v"
# A name the resolver can look up: LDH labels, plus the underscore real hosts use.
_DNS_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
# A scheme as RFC 3986 writes it; input without one is taken as http, like Safe Browsing.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:(?!\d+(?:[/?#]|$))")
# Unicode categories never valid anywhere in a URL: controls, surrogates, private use.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co"})


@dataclass(frozen=True, slots=True)
class FetchTarget:
    """A URL as the fetcher requests it: what the guard checks and what the connection needs."""

    url: httpx.URL  # userinfo and fragment dropped
    host: str  # canonical: lowercase ASCII name or IP address without brackets
    port: int  # explicit, the scheme's default when the URL has none
    is_ip: bool

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the name (or address), with the port only when not default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.url.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AcceptedURL:
    """A reported URL that intake accepts: its case key and the exact URL capture fetches."""

    canonical: CanonicalURL
    fetch_url: str


def fetch_form(url: str) -> str:
    """``url`` trimmed, with ``http://`` added when it has no scheme; refuses bad characters."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    text = url.strip(_SURROUNDING)
    if not text:
        raise InvalidURL("the URL is empty")
    for position, char in enumerate(text):
        if unicodedata.category(char) in _REFUSED_CATEGORIES or char in "\t\n\r":
            raise InvalidURL(
                f"the URL contains the control character U+{ord(char):04X} at position "
                f"{position}; it cannot be fetched"
            )
    if _SCHEME.match(text) is None:
        text = "http://" + text.removeprefix("//")
    return text


def parse_fetch_url(url: str) -> httpx.URL:
    """Parse ``url`` exactly as the fetch request will be built from it; InvalidURL if httpx
    cannot. The scheme is not checked here (the fetcher refuses other schemes by policy)."""
    try:
        return httpx.URL(fetch_form(url))
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise InvalidURL(f"the URL cannot be fetched: {exc}") from None


def fetch_target(url: httpx.URL) -> FetchTarget:
    """Check a parsed http(s) URL's host and port and return what the fetcher connects to.

    The host is canonicalized with the same code that keys cases, so every spelling of an
    address is seen as the address it is; a name must be one DNS can look up.
    """
    if url.scheme not in DEFAULT_PORTS:
        raise InvalidURL(f"unsupported URL scheme {url.scheme!r}: only http and https")
    raw = url.raw_host
    if not raw:
        raise InvalidURL("the URL has no host")
    host, is_ip = canonical_host(b"[" + raw + b"]" if b":" in raw else raw)
    text = host.decode("ascii", "backslashreplace").strip("[]")
    if not is_ip and (len(text) > MAX_HOST_LENGTH or _DNS_NAME.fullmatch(text) is None):
        raise InvalidURL(
            f"the host {text[:100]!r} is not a name that can be looked up "
            "(only letters, digits, '-', '_' and dots)"
        )
    port = url.port
    if port is not None and not 0 < port < 65536:
        raise InvalidURL(f"invalid port {port}: a port is a number from 1 to 65535")
    clean = url.copy_with(username=None, password=None, fragment=None)
    return FetchTarget(clean, text, port or DEFAULT_PORTS[url.scheme], is_ip)


def accept_url(url: str) -> AcceptedURL:
    """The check intake applies: fetchable, canonical, and both reading the same location.

    Raises :class:`~takedown.errors.InvalidURL` with a reason a reporter can act on.
    """
    fetch_url = fetch_form(url)
    canonical = parse_url(fetch_url)
    target = fetch_target(parse_fetch_url(fetch_url))
    default = DEFAULT_PORTS[canonical.scheme]
    if (target.url.scheme, target.host, target.port) != (
        canonical.scheme,
        canonical.host,
        canonical.port or default,
    ):
        raise InvalidURL(
            "the URL is ambiguous: it names the host "
            f"{canonical.host!r} as a browser reads it but {target.host!r} as it would be "
            "fetched; report the address as the browser shows it"
        )
    return AcceptedURL(canonical, fetch_url)
