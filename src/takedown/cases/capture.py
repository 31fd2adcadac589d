"""Capture: fetch a case's URL, hash what it shows in memory, and assess what is already known.

Nothing fetched is written to disk: bytes live only in memory while they are hashed. Items
whose hashes match a block-list bank are assessed automatically with the bank entry's
classification; when every item is known, the case is confirmed without anyone looking, and
otherwise it waits for an analyst with only the unknown items to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.cases import service
from takedown.cases.models import Case, CaseItem, CaseState, ItemVerdict
from takedown.config import Settings
from takedown.errors import TakedownError
from takedown.matching.lookup import hash_content, match_hashes
from takedown.matching.state import BankIndex
from takedown.monitoring import Fetcher, FetchError, FetchResult
from takedown.monitoring.media import fetch_or_error, is_page, page_media


@dataclass
class _Media:
    url: str
    result: FetchResult


def _fetch_media(
    case: Case, fetcher: Fetcher, settings: Settings
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
        result = fetch_or_error(fetcher, url)
        if isinstance(result, TakedownError):
            failures.append(f"{url}: {result.message}")
        elif result.ok:
            found.append(_Media(url, result))
        else:
            failures.append(f"{url}: HTTP {result.status}")
    return found, failures


def _item(
    session: Session, case: Case, media: _Media, settings: Settings, index: BankIndex, now: datetime
) -> CaseItem:
    hashed = hash_content(media.result.body, settings, require_image=False)
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
) -> list[CaseItem]:
    """Capture a new case and move it on: confirmed if everything is known, else to analysts."""
    try:
        media, failures = _fetch_media(case, fetcher, settings)
    except FetchError as exc:
        media, failures = [], [f"{case.url}: {exc.message}"]
    items: dict[str, CaseItem] = {}
    for found in media:
        try:
            item = _item(session, case, found, settings, index, now)
        except TakedownError as exc:
            failures.append(f"{found.url}: {exc.message}")
            continue
        if item.sha256 in items:
            session.expunge(item)  # the same file shown twice is one item
            continue
        items[item.sha256] = item
    known = sum(1 for i in items.values() if i.verdict is ItemVerdict.KNOWN)
    message = f"Captured {len(items)} media file(s), {known} matching known material"
    service.add_event(
        session,
        case,
        "captured",
        message,
        actor="system",
        at=now,
        data={"items": len(items), "known": known, "failures": failures[:20]},
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
