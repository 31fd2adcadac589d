"""The limits a fetch runs under: a total deadline, a content-type allow-list, a byte limit.

The byte limit counts *decoded* bytes and is enforced while streaming: a body is never held
beyond ``max_bytes + 1`` bytes, whatever the server declares, and a gzip body is inflated with a
bounded output size, so a small compressed "bomb" cannot expand past the limit in memory.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable

from takedown.errors import ConfigurationError
from takedown.fetch.errors import (
    BadResponse,
    FetchTimeout,
    ResponseTooLarge,
    UnsupportedContentType,
)

DEFAULT_CONTENT_TYPES = frozenset({"image/*", "video/*", "text/html"})


class Deadline:
    """A point in monotonic time that a whole fetch, redirects included, must finish by."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(self._end - time.monotonic(), 0.0)

    def check(self, url: str) -> None:
        """Raise :class:`FetchTimeout` if the deadline has passed."""
        if time.monotonic() >= self._end:
            raise FetchTimeout(
                f"fetching {url} took longer than the total limit of {self.seconds:g} s",
                url=url,
                phase="total",
            )


class ContentTypes:
    """An allow-list of media types; ``type/*`` matches every subtype."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = frozenset(p.strip().lower() for p in patterns)
        for pattern in self.patterns:
            kind, slash, sub = pattern.partition("/")
            if not (kind and slash and sub) or (kind == "*" and sub != "*"):
                raise ConfigurationError(f"invalid content type pattern {pattern!r}")

    def allows(self, media_type: str) -> bool:
        """Is ``media_type`` (lowercase ``type/subtype``, no parameters) allowed?"""
        kind = media_type.partition("/")[0]
        return bool(media_type) and any(
            p in (media_type, f"{kind}/*", "*/*") for p in self.patterns
        )

    def check(self, url: str, content_type: str) -> None:
        """Raise :class:`UnsupportedContentType` unless the header value is allowed."""
        media_type = media_type_of(content_type)
        if self.allows(media_type):
            return
        shown = f"content type {media_type!r}" if media_type else "no content type"
        allowed = ", ".join(sorted(self.patterns))
        raise UnsupportedContentType(
            f"{url} answered with {shown}; only {allowed} may be fetched",
            url=url,
            content_type=media_type,
        )


def media_type_of(content_type: str) -> str:
    """The lowercase ``type/subtype`` of a Content-Type header value, without parameters."""
    return content_type.partition(";")[0].strip().lower()


def read_body(
    chunks: Iterable[bytes],
    *,
    url: str,
    content_encoding: str,
    max_bytes: int,
    deadline: Deadline,
) -> bytes:
    """Read a streamed body, decoding gzip/deflate, stopping as soon as it passes ``max_bytes``."""
    inflater = _inflater_for(content_encoding, url)
    body = bytearray()

    def add(data: bytes) -> None:
        body.extend(data)
        if len(body) > max_bytes:
            raise ResponseTooLarge(
                f"{url} sent more than the limit of {max_bytes} bytes; stopped reading",
                url=url,
                max_bytes=max_bytes,
            )

    for raw in chunks:
        if inflater is None:
            add(raw)
        else:
            # One byte more than the room left is enough to know the limit is passed.
            add(inflater.inflate(raw, url, max_bytes - len(body) + 1))
            while inflater.pending:
                add(inflater.inflate(b"", url, max_bytes - len(body) + 1))
        deadline.check(url)
    return bytes(body)


def check_declared_length(url: str, content_length: str | None, max_bytes: int) -> None:
    """Refuse before reading when the server announces a body over the limit."""
    if content_length is None or not content_length.strip().isdigit():
        return
    if int(content_length) > max_bytes:
        raise ResponseTooLarge(
            f"{url} announced {content_length.strip()} bytes, more than the limit of "
            f"{max_bytes} bytes; not read",
            url=url,
            max_bytes=max_bytes,
        )


class _Inflater:
    """zlib with an output bound; one per body, since it keeps the stream's state."""

    def __init__(self, encoding: str) -> None:
        # 32+15 accepts both gzip and zlib headers; "deflate" bodies are sometimes raw deflate.
        self._raw_fallback = encoding == "deflate"
        self._inflater = zlib.decompressobj(32 + 15)
        self._started = False

    @property
    def pending(self) -> bool:
        """Is compressed input left over because the last call hit its output bound?"""
        return bool(self._inflater.unconsumed_tail)

    def inflate(self, data: bytes, url: str, bound: int) -> bytes:
        """Inflate ``data`` (or, when empty, the leftover input) into at most ``bound`` bytes."""
        data = data or self._inflater.unconsumed_tail
        try:
            out = self._inflater.decompress(data, bound)
        except zlib.error:
            if self._started or not self._raw_fallback:
                raise BadResponse(f"{url} sent a corrupt compressed body", url=url) from None
            self._raw_fallback, self._inflater = False, zlib.decompressobj(-15)
            return self.inflate(data, url, bound)
        self._started = True
        return out


def _inflater_for(content_encoding: str, url: str) -> _Inflater | None:
    """The decoder for a Content-Encoding value; we ask for identity, but servers may ignore it."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflater(encoding)
    raise BadResponse(
        f"{url} sent the body in content encoding {encoding!r}, which we do not decode",
        url=url,
        content_encoding=encoding,
    )
