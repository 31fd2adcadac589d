"""Removal detection: is a case's known material still served at the URL it was reported at?

The decision of the ``monitoring.recheck`` job, kept free of the database: plain values in (the
case's URL and its known items' hashes and URLs), a :class:`RecheckOutcome` out. Nothing
fetched is kept: bodies are hashed in memory and only their SHA-256 goes into the evidence.

What is looked at: the case's URL; when it is an HTML page, the first ``max_media`` media it
shows (found as capture finds them); and each known item's own media URL, because hosts often
take the page down and leave the file. Each URL is fetched once, even when it is both.

How it is decided, in this order:

1. **Live** when any of those URLs serves a known item: the same SHA-256 or MD5, or a PDQ hash
   (any of the served image's 8 rotations and flips) within ``pdq_threshold`` of the item's,
   the served hash being of usable quality. PDQ catches a re-encoded or resized copy; it is
   compared pairwise against the few items of one case, no index needed.
2. **Unreachable** when the case's URL gave no answer we can read: a timeout, a refused
   connection, a 5xx, any other 4xx (401, 403 and 451 are as often a bot wall or a block of
   our country as a removal), a DNS failure that is not NXDOMAIN, a redirect loop, a refusal
   by our own SSRF policy. A host that is briefly down must not close a case.
3. With no known items to compare (nothing was captured), the answer of the URL alone decides:
   removed if it is gone, else **live** (``page_up_no_items_known``).
4. **Unreachable** (``media_unreachable``) when no known item was seen but some media URL gave
   no readable answer either: that URL might still be serving it.
5. **Removed** otherwise: the host no longer resolves (``nxdomain``), the URL answers 404 or
   410 (also at the end of redirects), or it answers but serves none of the known items
   (``no_known_items``; also when it now answers with a type or size we never keep).

A media URL counts as checked when it was hashed, answered 404 or 410, no longer resolves, or
answered with a content type or size that a captured item cannot have had.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from takedown.errors import InvalidURL, TakedownError
from takedown.fetch.errors import (
    BadResponse,
    ConnectionFailed,
    DNSFailure,
    FetchRefused,
    FetchTimeout,
    ResponseTooLarge,
    TooManyRedirects,
    UnsupportedContentType,
)
from takedown.fetch.fetcher import Fetcher, FetchResult
from takedown.fetch.media import fetch_or_error, is_page, page_media
from takedown.matching import (
    DEFAULT_QUALITY_FLOOR,
    DEFAULT_THRESHOLD,
    ImageError,
    InvalidSignal,
    Md5Signal,
    PdqSignal,
    Sha256Signal,
    hash_bytes,
)

# The resolver tells NXDOMAIN from a failed lookup only in its message: the static resolver's
# words, and getaddrinfo's "no such name" and "no address" codes (whose numbers differ between
# platforms, hence the constants). Anything else (a timeout, EAI_AGAIN's "temporary failure",
# a SERVFAIL) proves nothing about the name and is treated as unreachable.
_NXDOMAIN_MARKERS = tuple(
    ["no such name", "no addresses", f"[Errno {socket.EAI_NONAME}]"]
    + ([f"[Errno {socket.EAI_NODATA}]"] if hasattr(socket, "EAI_NODATA") else [])
)
# Statuses that say the resource is gone (RFC 9110 15.5.5 and 15.5.11).
_GONE_STATUSES = frozenset({404, 410})


class RecheckStatus(StrEnum):
    """What a re-check concluded about a case's content."""

    LIVE = "live"  # a known item is still served
    REMOVED = "removed"  # seen gone: the case can close
    UNREACHABLE = "unreachable"  # could not tell; says nothing about removal

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True, slots=True)
class KnownItem:
    """A case item to look for: its id, its hashes, and the media URL it was captured from."""

    id: str
    sha256: str
    md5: str
    url: str
    pdq: str | None = None


@dataclass(frozen=True, slots=True)
class RecheckOutcome:
    """The verdict of one re-check, why (``reason`` is a short stable code), and the evidence.

    ``matched_items`` holds the ids of the known items still served. ``evidence`` is plain JSON:
    what was asked, each URL's status, content type and SHA-256, which item matched how, and
    every error; never any bytes.
    """

    status: RecheckStatus
    reason: str
    detail: str
    http_status: int | None = None
    matched_items: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


class _Seen(StrEnum):
    """What one URL showed."""

    SERVED = "served"  # a 2xx body
    GONE = "gone"  # 404, 410, or the host no longer resolves
    OTHER = "other"  # an answer that cannot be a captured item (type or size we never keep)
    UNKNOWN = "unknown"  # no readable answer: proves nothing either way


@dataclass
class _Look:
    """One URL fetched, what it showed, and which known items it serves."""

    url: str
    seen: _Seen
    reason: str
    why: str
    result: FetchResult | None = None
    roles: list[str] = field(default_factory=list)
    sha256: str | None = None
    hits: list[dict[str, Any]] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        result = self.result
        return {
            "url": self.url,
            "checked_as": self.roles,
            "seen": self.seen.value,
            "reason": self.reason,
            "status": result.status if result else None,
            "final_url": result.final_url if result else None,
            "redirects": list(result.redirects) if result else [],
            "content_type": result.content_type if result else None,
            "size": len(result.body) if result and result.ok else None,
            "sha256": self.sha256,
            "matches": self.hits,
            "error": None if result else self.why,
        }


def recheck(
    fetcher: Fetcher,
    case_url: str,
    known: Sequence[KnownItem],
    *,
    max_media: int,
    now: datetime,
    pdq_threshold: int = DEFAULT_THRESHOLD,
    quality_floor: int = DEFAULT_QUALITY_FLOOR,
) -> RecheckOutcome:
    """Re-check ``case_url`` for the case's ``known`` items; see the module docstring."""
    page = _look(fetcher, case_url, "page")
    looks: dict[str, _Look] = {case_url: page}
    listed: list[str] = []
    if known:
        # With nothing known there is nothing to compare: the URL's own answer decides.
        listed = _look_around(fetcher, page, known, looks, max_media)
        matcher = _Matcher(known, pdq_threshold, quality_floor)
        for look in looks.values():
            if look.result is None or look.seen is not _Seen.SERVED:
                continue
            if look is page and is_page(look.result):
                continue  # the page's HTML is not media; its media were looked at
            matcher.match(look, look.result.body)
    media = [look for look in looks.values() if look is not page]
    served = {hit["item"] for look in looks.values() for hit in look.hits}
    matched = [item.id for item in known if item.id in served]
    status, reason, detail = _decide(page, media, known, matched)
    evidence = {
        "checked_at": now.isoformat(),
        "url": case_url,
        "known": [{"id": i.id, "sha256": i.sha256, "url": i.url} for i in known],
        "max_media": max_media,
        "page": {
            **page.evidence(),
            "media_listed": min(len(listed), max_media),
            "more_media": len(listed) > max_media,
        },
        "media": [look.evidence() for look in media],
        "errors": [f"{look.url}: {look.why}" for look in looks.values() if look.result is None],
    }
    return RecheckOutcome(
        status=status,
        reason=reason,
        detail=detail,
        http_status=page.result.status if page.result else None,
        matched_items=matched,
        evidence=evidence,
    )


def _look_around(
    fetcher: Fetcher,
    page: _Look,
    known: Sequence[KnownItem],
    looks: dict[str, _Look],
    max_media: int,
) -> list[str]:
    """Fetch the page's media and each item's own URL into ``looks``, each URL once.

    Returns the media URLs the page lists, up to one more than ``max_media``: the extra one is
    not fetched, only noted in the evidence as "the page shows more than was checked".
    """
    listed: list[str] = []
    if page.result is not None and page.seen is _Seen.SERVED and is_page(page.result):
        listed = page_media(page.result, limit=max_media + 1)
    wanted = [(url, "page_media") for url in listed[:max_media]]
    wanted += [(item.url, "item") for item in known]
    for url, role in wanted:
        if url not in looks:
            looks[url] = _look(fetcher, url, role)
        elif role not in looks[url].roles:
            looks[url].roles.append(role)
    return listed


def _decide(
    page: _Look, media: list[_Look], known: Sequence[KnownItem], matched: list[str]
) -> tuple[RecheckStatus, str, str]:
    """The verdict from what each URL showed; the order of the module docstring."""
    if matched:
        return (
            RecheckStatus.LIVE,
            "known_items_served",
            f"{len(matched)} of {len(known)} known item(s) still served",
        )
    if page.seen is _Seen.UNKNOWN:
        return RecheckStatus.UNREACHABLE, page.reason, f"could not check {page.url}: {page.why}"
    if page.seen is _Seen.GONE:
        gone = f"{page.url} is gone: {page.why}"
    elif not known:
        return (
            RecheckStatus.LIVE,
            "page_up_no_items_known",
            f"{page.url} still answers and the case has no known items to look for",
        )
    else:
        gone = f"{page.url} answers but serves none of the {len(known)} known item(s)"
    unsure = [look for look in media if look.seen is _Seen.UNKNOWN]
    if unsure:
        return (
            RecheckStatus.UNREACHABLE,
            "media_unreachable",
            f"{gone}, but {len(unsure)} media URL(s) could not be checked "
            f"(first: {unsure[0].url}: {unsure[0].why})",
        )
    if page.seen is _Seen.GONE:
        return RecheckStatus.REMOVED, page.reason, gone
    return RecheckStatus.REMOVED, "no_known_items", gone


def _look(fetcher: Fetcher, url: str, role: str) -> _Look:
    """Fetch ``url`` once and classify what it showed."""
    result = fetch_or_error(fetcher, url)
    if isinstance(result, TakedownError):
        seen, reason = _error_seen(result)
        if role == "page" and isinstance(result, InvalidURL):
            # A link on a page we cannot parse is not an item; the case's own URL we cannot
            # parse says nothing about removal.
            seen = _Seen.UNKNOWN
        return _Look(url, seen, reason, result.message, roles=[role])
    status = result.status
    if result.ok:
        seen, reason = _Seen.SERVED, f"http_{status}"
    elif status in _GONE_STATUSES:
        seen, reason = _Seen.GONE, f"http_{status}"
    else:
        # 5xx, 408 and 429 are transient; other 4xx may be a bot wall or a geo-block.
        seen, reason = _Seen.UNKNOWN, "server_error" if status >= 500 else f"http_{status}"
    shown = result.final_url if result.redirects else url
    return _Look(url, seen, reason, f"{shown} answered HTTP {status}", result, roles=[role])


def _error_seen(error: TakedownError) -> tuple[_Seen, str]:
    """What a fetch failure says about the URL, and its reason code."""
    if isinstance(error, DNSFailure):
        if any(marker in error.message for marker in _NXDOMAIN_MARKERS):
            return _Seen.GONE, "nxdomain"
        return _Seen.UNKNOWN, "dns_failure"
    if isinstance(error, UnsupportedContentType):
        return _Seen.OTHER, "unsupported_content_type"
    if isinstance(error, ResponseTooLarge):
        return _Seen.OTHER, "too_large"
    if isinstance(error, InvalidURL):
        return _Seen.OTHER, "invalid_url"
    codes: list[tuple[type[TakedownError], str]] = [
        (FetchTimeout, "timeout"),
        (ConnectionFailed, "connection_failed"),
        (FetchRefused, "refused"),
        (TooManyRedirects, "too_many_redirects"),
        (BadResponse, "bad_response"),
    ]
    return _Seen.UNKNOWN, next((code for kind, code in codes if isinstance(error, kind)), "failed")


class _Matcher:
    """Compares served bytes with a case's known items: exact hashes first, then PDQ."""

    def __init__(self, known: Sequence[KnownItem], threshold: int, quality_floor: int) -> None:
        self._known = list(known)
        self._threshold = PdqSignal.check_threshold(threshold)
        self._floor = quality_floor
        self._pdq: dict[str, str] = {}
        for item in known:
            if item.pdq:
                try:
                    self._pdq[item.id] = PdqSignal.validate(item.pdq)
                except InvalidSignal:
                    continue  # a damaged stored hash: exact hashes still apply

    def match(self, look: _Look, body: bytes) -> None:
        """Record on ``look`` the body's SHA-256 and every known item it is."""
        sha256, md5 = Sha256Signal.hash_bytes(body), Md5Signal.hash_bytes(body)
        look.sha256 = sha256
        rest: list[KnownItem] = []
        for item in self._known:
            if item.sha256.lower() == sha256:
                look.hits.append({"item": item.id, "by": "sha256", "distance": 0})
            elif item.md5.lower() == md5:
                look.hits.append({"item": item.id, "by": "md5", "distance": 0})
            elif item.id in self._pdq:
                rest.append(item)
        if not rest or not body:
            return
        variants = self._variants(body)
        for item in rest:
            distance = min(
                (PdqSignal.distance(self._pdq[item.id], value) for value in variants),
                default=None,
            )
            if distance is not None and distance <= self._threshold:
                look.hits.append({"item": item.id, "by": "pdq", "distance": distance})

    def _variants(self, body: bytes) -> list[str]:
        """The PDQ hashes of the body's 8 rotations and flips, if it is a usable image."""
        try:
            hashed = hash_bytes(
                body,
                max_bytes=len(body),  # the fetcher already bounded it
                quality_floor=self._floor,
                require_image=False,
                signal_types=[PdqSignal],
            )
        except ImageError:
            return []
        signal = hashed.pdq
        if signal is None or not hashed.pdq_usable:
            return []
        return list(signal.variants.values()) or [signal.value]
