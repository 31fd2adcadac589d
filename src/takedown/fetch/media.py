"""Which media an HTML page shows: the URLs a capture fetches after fetching the page itself.

A reported URL is often a page, not a file. What the page shows is found the way a browser
would find it, without running scripts: ``img`` (``src``, the largest ``srcset`` candidate, and
the ``data-src``/``data-srcset`` that lazy-loading scripts swap in), ``picture``/``source``
``srcset``, ``video poster``, the ``og:image`` and ``twitter:image`` meta tags, and links to
files whose name ends like an image. URLs are resolved against the page (and a ``<base href>``,
which applies to what follows it), kept only when http(s), deduplicated, in page order, and
capped at ``limit``.

The stdlib ``html.parser`` is used on purpose: it never raises on malformed markup, needs no
dependency, and its attribute values are already unescaped (``&amp;`` in a URL becomes ``&``).

Capture and the removal re-check share the steps around it: :func:`is_page` (is a response a
page to read, or a media file itself?), :func:`page_media` (the media URLs of a fetched page)
and :func:`fetch_or_error` (one fetch, its failure returned rather than raised, so that one
broken image does not stop the others being looked at).
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

from takedown.errors import InvalidURL, TakedownError
from takedown.fetch.errors import FetchError
from takedown.fetch.fetcher import Fetcher, FetchResult
from takedown.urls.canonical import MAX_URL_LENGTH

IMAGE_EXTENSIONS = frozenset(
    {".avif", ".bmp", ".gif", ".heic", ".heif", ".jfif", ".jpe", ".jpeg", ".jpg", ".png"}
    | {".tif", ".tiff", ".webp"}
)
META_IMAGE_KEYS = frozenset(
    {"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}
)
_WHITESPACE = " \t\n\r\f"
# Browsers remove tabs and newlines anywhere in a URL attribute (WHATWG URL parser).
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
# How far into the page a <meta charset> is looked for (the HTML standard's prescan uses 1024).
_PRESCAN_BYTES = 4096


def extract_media(
    html: bytes | str, base_url: str, *, limit: int = 50, encoding: str | None = None
) -> list[str]:
    """Return the absolute http(s) URLs of the media ``html`` shows, in page order.

    ``base_url`` is the page's own (final) URL. Bytes are decoded with ``encoding`` (pass the
    HTTP charset when there is one), else a ``<meta charset>``, else UTF-8; undecodable bytes
    are replaced rather than refused, since a page is read only to find URLs.
    """
    if limit <= 0:
        return []
    text = html if isinstance(html, str) else _decode(html, encoding)
    parser = _MediaParser(base_url, limit)
    try:
        parser.feed(text)
        parser.close()
    except _Enough:
        pass
    return parser.urls


def is_page(result: FetchResult) -> bool:
    """Is this response an HTML page whose media are to be read (not a media file itself)?"""
    return result.media_type == "text/html"


def page_media(result: FetchResult, *, limit: int) -> list[str]:
    """The media URLs a fetched page shows, resolved against its final URL; none if not a page.

    Only a 2xx HTML response is read (a 404 page's body is never kept by the fetcher anyway),
    decoded with the charset the server declared.
    """
    if not result.ok or not is_page(result):
        return []
    return extract_media(result.body, result.final_url, limit=limit, encoding=result.charset)


def fetch_or_error(fetcher: Fetcher, url: str) -> FetchResult | TakedownError:
    """Fetch ``url``; a fetch failure, or a URL the fetcher cannot even parse, is returned."""
    try:
        return fetcher.fetch(url)
    except (FetchError, InvalidURL) as exc:
        return exc


class _Enough(Exception):
    """Raised inside the parser once ``limit`` URLs are found: the rest of the page is skipped."""


class _MediaParser(HTMLParser):
    def __init__(self, base_url: str, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._seen: set[str] = set()
        self._base = base_url
        self._base_set = False
        self._limit = limit

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes: dict[str, str] = {}
        for name, value in attrs:
            # In HTML the first of two equal attribute names wins.
            if value is not None:
                attributes.setdefault(name, value)
        get = attributes.get
        if tag == "base":
            self._set_base(get("href"))
        elif tag == "img":
            for name in ("src", "data-src"):
                self._add(get(name))
            for name in ("srcset", "data-srcset"):
                self._add(largest_candidate(get(name)))
        elif tag == "source":
            self._add(largest_candidate(get("srcset")))
        elif tag == "video":
            self._add(get("poster"))
        elif tag == "meta":
            key = (get("property") or get("name") or "").strip().lower()
            if key in META_IMAGE_KEYS:
                self._add(get("content"))
        elif tag == "a":
            self._add(get("href"), image_link=True)

    def _set_base(self, href: str | None) -> None:
        # Only the first <base href> counts, as in browsers.
        if self._base_set or href is None:
            return
        resolved = _resolve(self._base, href)
        if resolved is not None:
            self._base, self._base_set = resolved, True

    def _add(self, value: str | None, *, image_link: bool = False) -> None:
        if value is None:
            return
        url = _resolve(self._base, value)
        if url is None or url in self._seen:
            return
        if image_link and not _looks_like_image(url):
            return
        self._seen.add(url)
        self.urls.append(url)
        if len(self.urls) >= self._limit:
            raise _Enough


def largest_candidate(srcset: str | None) -> str | None:
    """The URL of the largest candidate of a ``srcset``: widest ``w``, else densest ``x``.

    Follows the HTML standard's parsing: a URL runs to the next whitespace (so commas inside a
    URL, common in image CDN paths, survive) and a trailing comma ends a candidate.
    """
    if not srcset:
        return None
    best: tuple[tuple[int, float], str] | None = None
    pos, end = 0, len(srcset)
    while True:
        while pos < end and (srcset[pos] in _WHITESPACE or srcset[pos] == ","):
            pos += 1
        if pos >= end:
            break
        start = pos
        while pos < end and srcset[pos] not in _WHITESPACE:
            pos += 1
        url, descriptors = srcset[start:pos], ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start, depth = pos, 0
            # Descriptors run to the next comma that is not inside parentheses.
            while pos < end:
                char = srcset[pos]
                if char == "," and depth == 0:
                    break
                if char == "(":
                    depth += 1
                elif char == ")" and depth:
                    depth -= 1
                pos += 1
            descriptors, pos = srcset[start:pos], pos + 1
        size = _candidate_size(descriptors)
        if url and (best is None or size > best[0]):
            best = (size, url)
    return None if best is None else best[1]


def _candidate_size(descriptors: str) -> tuple[int, float]:
    """Sort key of a srcset candidate: width descriptors outrank densities (mixing is invalid)."""
    for token in descriptors.split():
        number, unit = token[:-1], token[-1:].lower()
        try:
            if unit == "w":
                return (1, float(int(number)))
            if unit == "x":
                return (0, float(number))
        except ValueError:
            continue
    return (0, 1.0)


def _resolve(base: str, value: str) -> str | None:
    """Resolve an attribute value against the base; None unless it is an http(s) URL."""
    value = value.strip(_WHITESPACE).translate(_TAB_NEWLINE)
    if not value or len(value) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(urljoin(base, value))
    except ValueError:
        # urllib refuses some malformed hosts ("http://[::1"); a browser would too.
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts._replace(fragment=""))


def _looks_like_image(url: str) -> bool:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:] in IMAGE_EXTENSIONS


def _decode(data: bytes, encoding: str | None) -> str:
    """Decode page bytes: BOM, then the given encoding, then ``<meta charset>``, then UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", "replace")
    found = _META_CHARSET.search(data[:_PRESCAN_BYTES])
    declared = found.group(1).decode("ascii") if found else None
    for candidate in (encoding, declared):
        if not candidate:
            continue
        try:
            name = codecs.lookup(candidate).name
            # A page read as ASCII-compatible bytes that claims UTF-16/32 is UTF-8 (HTML
            # standard).
            if name.startswith(("utf-16", "utf-32")):
                name = "utf-8"
            return data.decode(name, "replace")
        except LookupError:
            # Unknown names, and codecs that are not text encodings ("base64", "rot13").
            continue
    return data.decode("utf-8", "replace")
