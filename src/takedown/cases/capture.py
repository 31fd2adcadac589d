"""Capture: fetch a case's URL, hash what it shows in memory, and assess what is already known.

Nothing fetched is written to disk: bytes live only in memory while they are hashed. Items
whose hashes match a block-list bank are assessed automatically with the bank entry's
classification; when every item is known, the case is confirmed without anyone looking, and
otherwise it waits for an analyst with only the unknown items to look at.

One anonymous report must not buy minutes of worker time, so a capture runs on a budget
(``CaptureBudget``): at most ``capture_max_media_per_page`` media of a page, at most
``capture_max_pixels`` pixels decoded over all of them (each image decoded reduced, which is
all PDQ needs), and nothing new started after ``capture_max_seconds``. What falls outside the
budget is still an item with its byte hashes (which can match a bank exactly), listed as "not
hashed: budget" on the timeline and left for the analyst.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.cases import service
from takedown.cases.models import Case, CaseItem, CaseState, ItemVerdict
from takedown.config import Settings
from takedown.errors import InvalidURL, TakedownError
from takedown.fetch import Fetcher, FetchError, FetchResult
from takedown.fetch.media import fetch_or_error, is_page, page_media
from takedown.matching.hasher import HashResult, hash_bytes
from takedown.matching.images import PDQ_REDUCE_TO, PixelBudget
from takedown.matching.lookup import match_hashes
from takedown.matching.signals import SIGNAL_TYPES, BytesHasher
from takedown.matching.state import BankIndex

_BYTE_TYPES = [t for t in SIGNAL_TYPES.values() if issubclass(t, BytesHasher)]


@dataclass
class CaptureBudget:
    """The work one capture may do: pixels decoded, and time before it starts nothing new."""

    pixels: PixelBudget
    seconds: float
    monotonic: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    # URLs left out, and why ("not fetched: time budget", "not hashed: budget").
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.monotonic()

    @classmethod
    def of(
        cls, settings: Settings, monotonic: Callable[[], float] = time.monotonic
    ) -> CaptureBudget:
        return cls(
            PixelBudget(settings.capture_max_pixels), settings.capture_max_seconds, monotonic
        )

    def out_of_time(self) -> bool:
        return self.monotonic() - self.started >= self.seconds


@dataclass
class _Media:
    url: str
    result: FetchResult


def _fetch_media(
    case: Case, fetcher: Fetcher, settings: Settings, budget: CaptureBudget
) -> tuple[list[_Media], list[str]]:
    """The media files at the case's URL (the page's media, or the URL itself), and failures."""
    first = fetcher.fetch(case.url)
    if not first.ok:
        return [], [f"{case.url}: HTTP {first.status}"]
    if not is_page(first):
        return [_Media(case.url, first)], []
    found: list[_Media] = []
    failures: list[str] = []
    for url in page_media(first, limit=settings.capture_max_media_per_page):
        if budget.out_of_time():
            budget.skipped.append(f"{url}: not fetched: time budget")
            continue
        result = fetch_or_error(fetcher, url)
        if isinstance(result, TakedownError):
            failures.append(f"{url}: {result.message}")
        elif result.ok:
            found.append(_Media(url, result))
        else:
            failures.append(f"{url}: HTTP {result.status}")
    return found, failures


def _hash(media: _Media, settings: Settings, budget: CaptureBudget) -> HashResult:
    """Every signal of one file within the budget; byte hashes only once the budget is spent."""
    body = media.result.body
    max_bytes, floor = settings.max_image_bytes, settings.pdq_quality_floor
    if budget.out_of_time():
        budget.skipped.append(f"{media.url}: not hashed: time budget")
        return hash_bytes(
            body,
            max_bytes=max_bytes,
            quality_floor=floor,
            require_image=False,
            signal_types=_BYTE_TYPES,
        )
    skipped = budget.pixels.skipped
    hashed = hash_bytes(
        body,
        max_pixels=settings.max_image_pixels,
        require_image=False,
        reduce_to=PDQ_REDUCE_TO,
        budget=budget.pixels,
        max_bytes=max_bytes,
        quality_floor=floor,
    )
    if budget.pixels.skipped > skipped:
        budget.skipped.append(f"{media.url}: not hashed: budget")
    return hashed


def _item(
    session: Session,
    case: Case,
    media: _Media,
    settings: Settings,
    index: BankIndex,
    now: datetime,
    budget: CaptureBudget,
) -> CaseItem:
    hashed = _hash(media, settings, budget)
    outcome = match_hashes(session, hashed, index=index)
    known = outcome.effective
    pdq = hashed.pdq
    item = CaseItem(
        case_id=case.id,
        url=media.url,
        content_type=media.result.media_type,
        size=len(media.result.body),
        width=hashed.image.width if hashed.image else None,
        height=hashed.image.height if hashed.image else None,
        md5=hashed.md5,
        sha1=hashed.sha1,
        sha256=hashed.sha256,
        pdq=pdq.value if pdq else None,
        pdq_quality=pdq.quality if pdq else None,
        verdict=ItemVerdict.KNOWN if known else ItemVerdict.UNKNOWN,
        classification=known[0].classification if known else None,
        automatic=bool(known),
        match=(
            {
                "bank": known[0].bank,
                "entry_id": known[0].entry_id,
                "signal_type": known[0].signal_type,
                "distance": known[0].distance,
                "variant": known[0].variant,
            }
            if known
            else {}
        ),
        captured_at=now,
    )
    session.add(item)
    return item


def capture(
    session: Session,
    case: Case,
    *,
    fetcher: Fetcher,
    settings: Settings,
    index: BankIndex,
    now: datetime,
    budget: CaptureBudget | None = None,
) -> list[CaseItem]:
    """Capture a new case and move it on: confirmed if everything is known, else to analysts."""
    budget = budget or CaptureBudget.of(settings)
    try:
        media, failures = _fetch_media(case, fetcher, settings, budget)
    except (FetchError, InvalidURL) as exc:
        # InvalidURL: a case opened before intake refused what cannot be fetched.
        media, failures = [], [f"{case.url}: {exc.message}"]
    items: dict[str, CaseItem] = {}
    for found in media:
        try:
            item = _item(session, case, found, settings, index, now, budget)
        except TakedownError as exc:
            failures.append(f"{found.url}: {exc.message}")
            continue
        if item.sha256 in items:
            session.expunge(item)  # the same file shown twice is one item
            continue
        items[item.sha256] = item
    known = sum(1 for i in items.values() if i.verdict is ItemVerdict.KNOWN)
    message = f"Captured {len(items)} media file(s), {known} matching known material"
    if budget.skipped:
        message += f"; {len(budget.skipped)} left for the analyst (over the capture budget)"
    service.add_event(
        session,
        case,
        "captured",
        message,
        actor="system",
        at=now,
        data={
            "items": len(items),
            "known": known,
            "failures": failures[:20],
            "not_hashed": budget.skipped[:50],
            "pixels_decoded": budget.pixels.decoded,
            "images_decoded": budget.pixels.images,
        },
    )
    if items and known == len(items):
        service.transition(
            session,
            case,
            CaseState.CONFIRMED,
            SYSTEM,
            now=now,
            note="every item matched known material; assessed automatically",
            data={"automatic": True},
        )
    else:
        service.transition(session, case, CaseState.AWAITING_ASSESSMENT, SYSTEM, now=now)
    return list(items.values())
