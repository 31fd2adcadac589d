"""URL canonicalization following Google Safe Browsing v4 ("URLs and Hashing"), exactly.

The canonical URL is Takedown's identity for a reported location: cases are deduplicated on it
and URL lists are matched with the expressions built from it. The steps, in the order the
specification gives them:

1. remove TAB, CR and LF (not their escapes), drop the fragment, trim C0 controls and spaces;
2. percent-unescape the whole URL until it stops changing;
3. split scheme (``http`` assumed when missing), userinfo, host, port, path and query;
4. canonicalize the host (see :mod:`takedown.urls.hosts`) and resolve ``.``/``..`` and ``//``
   in the path, leaving the query alone;
5. percent-escape every byte <= 0x20, >= 0x7f, ``#`` and ``%`` with uppercase hex.

The work is done on bytes so that input which is not UTF-8 survives exactly (the specification
has a Latin-1 vector). Because of step 2 the canonical URL is a *key*, not always the URL a
browser would fetch: ``%2F`` and ``/`` are the same to Safe Browsing, on purpose.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from takedown.errors import InvalidURL
from takedown.urls.domains import registered_domain
from takedown.urls.hosts import canonical_host, split_host_port

MAX_URL_LENGTH = 8192
DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*):")
# "example.com:8080/x" has no scheme: a colon followed by a port is a host:port (the rule of
# Google's Go client), so schemeless input with a port still works.
_PORT_AFTER_COLON = re.compile(rb"\d+(?:[/?]|$)")
_TRIM = bytes(range(0x21))
_NEEDS_ESCAPE = re.compile(rb"[\x00-\x20\x7f-\xff#%]")
_ESCAPES = {bytes([i]): b"%%%02X" % i for i in range(256)}


class UrlParts(NamedTuple):
    """The canonical components of a URL, each already percent-escaped.

    ``host`` keeps the brackets of an IPv6 address; ``port`` is set only for an explicit port
    that is not the scheme's default; ``query`` is None when the URL has no ``?``.
    """

    scheme: str
    host: str
    port: int | None
    path: str
    query: str | None
    is_ip: bool

    def to_url(self, *, keep_port: bool = False) -> str:
        """Assemble the canonical URL, with the non-default port when ``keep_port`` is set."""
        netloc = self.host if self.port is None or not keep_port else f"{self.host}:{self.port}"
        url = f"{self.scheme}://{netloc}{self.path}"
        return url if self.query is None else f"{url}?{self.query}"


@dataclass(frozen=True, slots=True)
class CanonicalURL:
    """A reported URL in canonical form, with the parts the rest of Takedown needs.

    ``url`` keeps a non-default port because different ports are different sites; it is the
    dedup key of a case. ``sb_url`` is the exact Safe Browsing form (port dropped) that list
    expressions are built from. ``host`` has no IPv6 brackets.
    """

    url: str
    sb_url: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str | None
    registered_domain: str | None
    is_ip: bool

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of ``url``: the fixed-length database key of the location."""
        return hashlib.sha256(self.url.encode("ascii")).hexdigest()


def canonicalize(url: str | bytes, *, keep_port: bool = False) -> str:
    """Return the Safe Browsing v4 canonical form of ``url``.

    With ``keep_port`` an explicit non-default port stays in the result (Takedown's case key);
    without it the result matches the published Safe Browsing vectors exactly.
    Raises :class:`~takedown.errors.InvalidURL` when the input is not an http(s) URL.
    """
    return split_url(url).to_url(keep_port=keep_port)


def parse_url(url: str | bytes) -> CanonicalURL:
    """Canonicalize ``url`` and return it with its parts and registered domain."""
    parts = split_url(url)
    sb_url = parts.to_url()
    host = parts.host[1:-1] if parts.host.startswith("[") else parts.host
    return CanonicalURL(
        url=sb_url if parts.port is None else parts.to_url(keep_port=True),
        sb_url=sb_url,
        scheme=parts.scheme,
        host=host,
        port=parts.port,
        path=parts.path,
        query=parts.query,
        registered_domain=None if parts.is_ip else registered_domain(host),
        is_ip=parts.is_ip,
    )


def split_url(url: str | bytes) -> UrlParts:
    """Canonicalize ``url`` and return its escaped components."""
    data = _prepare(url)
    scheme, rest = _split_scheme(_unescape(data))
    rest, question, query = rest.partition(b"?")
    authority, slash, path = rest.partition(b"/")
    if not authority:
        raise InvalidURL("the URL has no host")
    raw_host, port = split_host_port(authority)
    host, is_ip = canonical_host(raw_host)
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return UrlParts(
        scheme=scheme,
        host=_escape(host),
        port=port,
        path=_escape(_clean_path(slash + path)),
        query=_escape(query) if question else None,
        is_ip=is_ip,
    )


def _prepare(url: str | bytes) -> bytes:
    """Apply step 1: bytes, no TAB/CR/LF, no fragment, trimmed, not empty or too long."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if isinstance(url, str):
        try:
            data = url.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidURL("the URL contains characters that are not valid Unicode") from None
    else:
        data = url
    # The fragment goes before unescaping so that an escaped "%23" stays part of the path.
    data = data.translate(None, b"\t\r\n").partition(b"#")[0].strip(_TRIM)
    if not data:
        raise InvalidURL("the URL is empty")
    if b"\\" in data:
        # Browsers (and GURL, which Chromium's Safe Browsing parses with) read "\" as "/" in
        # http(s) URLs; without this "http://evil.example\@good.example/" would key on the
        # wrong host. Only literal backslashes count, and not in the query.
        head, question, query = data.partition(b"?")
        data = head.replace(b"\\", b"/") + question + query
    return data


def _unescape(data: bytes) -> bytes:
    """Percent-unescape repeatedly until nothing changes (step 2)."""
    while b"%" in data:
        unescaped = unquote_to_bytes(data)
        # Every decoded escape shortens the string, so an equal length means a fixed point.
        if len(unescaped) == len(data):
            break
        data = unescaped
    return data


def _split_scheme(data: bytes) -> tuple[str, bytes]:
    """Return the lowercase scheme and what follows it; refuse anything but http(s)."""
    match = _SCHEME.match(data)
    if match is not None:
        scheme = match.group(1).decode("ascii").lower()
        rest = data[match.end() :]
        if scheme in DEFAULT_PORTS:
            # Like browsers, accept "http:host" and "http:///host" as "http://host".
            return scheme, rest.lstrip(b"/")
        if not _PORT_AFTER_COLON.match(rest):
            raise InvalidURL(
                f"unsupported URL scheme {scheme!r}: only http and https URLs are accepted"
            )
    # Safe Browsing assumes http when there is no scheme; "//host/" is scheme-relative.
    return "http", data[2:] if data.startswith(b"//") else data


def _clean_path(path: bytes) -> bytes:
    """Resolve ``/./`` and ``/../`` and collapse runs of slashes (step 4, path only)."""
    if not path:
        return b"/"
    if b"//" not in path and b"/." not in path:
        return path
    segments: list[bytes] = []
    for segment in path.split(b"/"):
        if segment == b"..":
            if segments:
                segments.pop()
        elif segment and segment != b".":
            segments.append(segment)
    cleaned = b"/" + b"/".join(segments)
    # A path ending in "/", "/." or "/.." names a directory, as in browsers: "/a/b/.." is "/a/".
    last = path.rpartition(b"/")[2]
    if segments and last in (b"", b".", b".."):
        cleaned += b"/"
    return cleaned


def _escape(data: bytes) -> str:
    """Percent-escape bytes <= 0x20, >= 0x7f, '#' and '%' with uppercase hex (step 5)."""
    if _NEEDS_ESCAPE.search(data) is not None:
        data = _NEEDS_ESCAPE.sub(lambda match: _ESCAPES[match.group()], data)
    return data.decode("ascii")
