"""Previews of unknown items: fetched live, checked, made small, and blurred on the server.

Capture keeps hashes only (see ``cases/capture.py``), so an item an analyst must look at is
fetched again from its URL, through the guarded fetcher, every time it is shown. The bytes must
have the SHA-256 that was captured: a different file is not what the case is about (and could
be anything), so it is refused. They are decoded under the pixel limit, shrunk to
``preview_max_side``, and for the default preview turned grey and blurred *here*, with the
viewer's preferences, so the sharp image never reaches the browser unless it is revealed.
Nothing is written to disk or cached: the bytes live in memory for one response, which carries
``Cache-Control: no-store``.

A reveal (``ItemReveal``) lets one user see one item sharp for at most
``exposure_reveal_max_seconds``, counts against their daily exposure caps, and is audited.
One item is revealed at a time: revealing another hides the previous one.

Known items (matched a bank) are never shown at all: they were assessed from their hash so that
nobody has to look. Video is not decoded (there is no video decoder in the product), so video
items get neither preview nor reveal.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from PIL import Image, ImageFilter
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.models import User
from takedown.auth.principal import Principal
from takedown.cases.models import CaseItem, ItemVerdict
from takedown.config import Settings
from takedown.errors import (
    Conflict,
    Forbidden,
    InvalidURL,
    NotFound,
    TakedownError,
    ValidationFailed,
)
from takedown.exposure import service as exposure
from takedown.exposure.models import ItemReveal
from takedown.fetch import Fetcher, FetchError
from takedown.matching.images import decode_image

MAX_BLUR: Final = 30
# A preview below this blur would be the sharp image without a reveal: no count, no cap, no
# audit. Analysts choose how much more to blur, never less than this.
MIN_BLUR: Final = 8
MEDIA_TYPE: Final = "image/png"
NO_STORE: Final = {"Cache-Control": "no-store"}


class ItemKind(StrEnum):
    """How an item may be shown."""

    KNOWN = "known"  # matched a bank: hashes and classification only, never pixels
    IMAGE = "image"  # blurred preview, sharp on reveal
    VIDEO = "video"  # a placeholder: no video decoding
    OTHER = "other"  # not a media type we decode


class KnownItemRefused(Forbidden):
    title = "Known material is never shown"


class NotPreviewable(Conflict):
    title = "No preview for this item"


class ContentChanged(Conflict):
    title = "Content changed since capture"


class ContentUnavailable(TakedownError):
    status_code = 502
    title = "Content unavailable"


class RevealRefused(Forbidden):
    title = "Reveal not valid"


def item_kind(item: CaseItem) -> ItemKind:
    if item.verdict is ItemVerdict.KNOWN or item.automatic:
        return ItemKind.KNOWN
    media = item.content_type.split(";")[0].strip().lower()
    if media.startswith("video/"):
        return ItemKind.VIDEO
    if media.startswith("image/"):
        return ItemKind.IMAGE
    return ItemKind.OTHER


@dataclass(frozen=True)
class ItemView:
    """One item as the console shows it to one viewer."""

    item: CaseItem
    kind: ItemKind
    # The viewer's reveal of this item while it may be shown sharp, and for how much longer.
    reveal: ItemReveal | None = None
    seconds_left: int = 0

    @property
    def match(self) -> dict[str, Any]:
        return self.item.match or {}


@dataclass(frozen=True)
class ItemPanel:
    """What the item partial needs: the item, and whether the viewer may reveal now."""

    view: ItemView
    exposure: exposure.Exposure


@dataclass(frozen=True)
class Revealed:
    reveal: ItemReveal
    panel: ItemPanel
    # Items of the same case whose reveal this one ended: shown blurred again.
    hidden: list[ItemView]


def get_item(session: Session, item_id: uuid.UUID) -> CaseItem:
    found = session.get(CaseItem, item_id)
    if found is None:
        raise NotFound(f"no item {item_id}")
    return found


def _check_showable(item: CaseItem) -> None:
    kind = item_kind(item)
    if kind is ItemKind.KNOWN:
        raise KnownItemRefused(
            "This item matched known material and was assessed from its hash; it is never shown."
        )
    if kind is ItemKind.VIDEO:
        raise NotPreviewable("Video is not decoded, so it has no preview and cannot be revealed.")
    if kind is ItemKind.OTHER:
        raise NotPreviewable(f"Items of type {item.content_type!r} have no preview.")


def _user_id(actor: Principal) -> uuid.UUID:
    if actor.user_id is None:
        raise Forbidden("only a signed-in staff member can reveal items")
    return actor.user_id


# -- the pixels --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wanted:
    """What to fetch and how to show it; planned in a transaction, fetched after it ends."""

    url: str
    sha256: str
    blur: int
    greyscale: bool


def fetch_original(url: str, sha256: str, fetcher: Fetcher, settings: Settings) -> Image.Image:
    """The image at ``url`` as it is now, if its bytes are still the captured ones."""
    try:
        result = fetcher.fetch(url)
    except (FetchError, InvalidURL) as exc:
        # The error's title, not its message: messages can hold the URL, and a 5xx answer is
        # logged; reported URLs stay out of logs.
        raise ContentUnavailable(f"The file could not be fetched ({exc.title}).") from exc
    if not result.ok:
        raise ContentUnavailable(
            f"The host answered HTTP {result.status}; the file may have been removed."
        )
    if hashlib.sha256(result.body).hexdigest() != sha256:
        raise ContentChanged(
            "The file at this URL is no longer the one captured (its SHA-256 differs), "
            "so it is not shown. Capture the case again to assess what is there now."
        )
    decoded = decode_image(
        result.body, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
    )
    return decoded.image


def render(wanted: Wanted, *, fetcher: Fetcher, settings: Settings) -> bytes:
    """Fetch and draw what was planned. Call it with no database transaction open: a slow
    host may take the fetcher's whole timeout, and SQLite has one writer."""
    image = fetch_original(wanted.url, wanted.sha256, fetcher, settings)
    return render_image(
        image, max_side=settings.preview_max_side, blur=wanted.blur, greyscale=wanted.greyscale
    )


def render_image(image: Image.Image, *, max_side: int, blur: int, greyscale: bool) -> bytes:
    """A small PNG of ``image``: shrunk first (less to blur, and a preview needs no more),
    then grey and blurred as asked. PNG, so grey stays exactly grey (no chroma noise)."""
    small = image.copy()
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if greyscale:
        small = small.convert("L")
    if blur > 0:
        small = small.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


def plan_preview(session: Session, item_id: uuid.UUID, user: User) -> Wanted:
    """The default preview, with the viewer's blur (never below ``MIN_BLUR``) and greyscale
    preferences."""
    item = get_item(session, item_id)
    _check_showable(item)
    blur = min(max(user.preview_blur, MIN_BLUR), MAX_BLUR)
    return Wanted(item.url, item.sha256, blur, user.preview_greyscale)


def plan_sharp(
    session: Session,
    item_id: uuid.UUID,
    reveal_id: uuid.UUID,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
) -> Wanted:
    """The item unblurred, in colour, for the user who revealed it, while the reveal is open."""
    item = get_item(session, item_id)
    _check_showable(item)
    reveal = session.get(ItemReveal, reveal_id)
    if reveal is None or reveal.item_id != item.id or reveal.user_id != _user_id(actor):
        # The same answer whether the reveal exists or is someone else's.
        raise RevealRefused("This reveal is not yours.")
    if not exposure.is_open(reveal, settings, now):
        raise RevealRefused("This reveal was hidden or has timed out; reveal the item again.")
    return Wanted(item.url, item.sha256, 0, False)


# -- reveals -----------------------------------------------------------------------------------


def _open_reveals(
    session: Session, user_id: uuid.UUID, settings: Settings, now: datetime
) -> Sequence[ItemReveal]:
    oldest = now - timedelta(seconds=settings.exposure_reveal_max_seconds)
    return session.scalars(
        select(ItemReveal)
        .where(
            ItemReveal.user_id == user_id,
            ItemReveal.hidden_at.is_(None),
            ItemReveal.revealed_at > oldest,
        )
        .order_by(ItemReveal.revealed_at)
    ).all()


def item_views(
    session: Session,
    items: Iterable[CaseItem],
    user_id: uuid.UUID,
    settings: Settings,
    now: datetime,
) -> list[ItemView]:
    """The items as ``user_id`` sees them: with their open reveal, if any."""
    open_by_item = {r.item_id: r for r in _open_reveals(session, user_id, settings, now)}
    views = []
    for item in items:
        row = open_by_item.get(item.id)
        left = (exposure.viewing_limit(row, settings) - now).total_seconds() if row else 0.0
        views.append(ItemView(item, item_kind(item), row, max(int(left), 0)))
    return views


def panel(
    session: Session, item_id: uuid.UUID, actor: Principal, *, settings: Settings, now: datetime
) -> ItemPanel:
    user_id = _user_id(actor)
    item = get_item(session, item_id)
    view = item_views(session, [item], user_id, settings, now)[0]
    return ItemPanel(view, exposure.exposure_of(session, user_id, settings, now))


def reveal(
    session: Session, item_id: uuid.UUID, actor: Principal, *, settings: Settings, now: datetime
) -> Revealed:
    """Reveal an item to ``actor``: refused for known items, video, and at an exposure cap.

    Revealing the item already open returns that reveal (a double click is not a second
    look); revealing another hides the one open before.
    """
    user_id = _user_id(actor)
    # One reveal at a time per user, and the cap counted once: concurrent reveals by the same
    # user wait for each other here (PostgreSQL; SQLite has a single writer anyway).
    session.get(User, user_id, with_for_update=True)
    item = get_item(session, item_id)
    _check_showable(item)
    previous = list(_open_reveals(session, user_id, settings, now))
    for row in previous:
        if row.item_id == item.id:
            return Revealed(row, panel(session, item.id, actor, settings=settings, now=now), [])
    exposure.check_reveal_allowed(exposure.exposure_of(session, user_id, settings, now))
    for row in previous:
        row.hidden_at = now
    revealed = ItemReveal(
        user_id=user_id, case_id=item.case_id, item_id=item.id, revealed_at=now, hidden_at=None
    )
    session.add(revealed)
    session.flush()
    audit.record(
        session,
        actor,
        "item.reveal",
        "case_item",
        item.id,
        at=now,
        details={
            "case_id": str(item.case_id),
            "reveal_id": str(revealed.id),
            "hid": [str(r.id) for r in previous],
        },
    )
    hidden = [
        ItemView(other, item_kind(other))
        for other in (get_item(session, r.item_id) for r in previous)
        if other.case_id == item.case_id
    ]
    return Revealed(revealed, panel(session, item.id, actor, settings=settings, now=now), hidden)


def hide(
    session: Session,
    item_id: uuid.UUID,
    reveal_id: uuid.UUID,
    actor: Principal,
    *,
    settings: Settings,
    now: datetime,
) -> ItemPanel:
    """End a reveal (the image is blurred again); ending an ended one changes nothing."""
    row = session.get(ItemReveal, reveal_id)
    if row is None or row.item_id != item_id or row.user_id != _user_id(actor):
        raise RevealRefused("This reveal is not yours.")
    if row.hidden_at is None:
        # A reveal that timed out stopped counting then, not when someone noticed.
        row.hidden_at = exposure.viewing_end(row, settings, now)
        session.flush()
    return panel(session, item_id, actor, settings=settings, now=now)


# -- preferences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    blur: int
    greyscale: bool


def parse_blur(text: str | int) -> int:
    try:
        blur = int(str(text).strip())
    except ValueError:
        raise ValidationFailed(
            f"Blur must be a whole number from {MIN_BLUR} to {MAX_BLUR}."
        ) from None
    if not MIN_BLUR <= blur <= MAX_BLUR:
        raise ValidationFailed(
            f"Blur must be from {MIN_BLUR} to {MAX_BLUR}: less would show the image sharp "
            "without a reveal."
        )
    return blur


def save_preferences(
    session: Session,
    user: User,
    actor: Principal,
    *,
    blur: str | int,
    greyscale: bool,
    now: datetime,
) -> Preferences:
    """Store how ``user`` wants previews (blur radius in preview pixels, greyscale)."""
    level = parse_blur(blur)
    before = {"blur": user.preview_blur, "greyscale": user.preview_greyscale}
    user.preview_blur = level
    user.preview_greyscale = greyscale
    session.flush()
    audit.record(
        session,
        actor,
        "user.preview_preferences",
        "user",
        user.id,
        at=now,
        details={"before": before, "after": {"blur": level, "greyscale": greyscale}},
    )
    return Preferences(level, greyscale)
