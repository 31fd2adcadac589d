"""Match content against the banks: thresholds per bank, metadata, allow lists.

How a match is decided, for one piece of content (a hashed file, or signals given directly):

1. The index is synced from the change log and queried once per signal with the *largest*
   PDQ threshold of the banks concerned; each hit is then kept only if it is within its own
   bank's threshold (exact types match only identical values).
2. Hits on disabled entries or disabled banks are dropped (the index holds only active
   entries; this re-check covers a change committed while the query ran).
3. Allow lists: if any signal of the content matches an entry of an allow-list bank, every
   block-list match of that content is *cancelled*. It is still reported, with
   ``cancelled_by`` naming the allow-list entries, but ``known`` is False, and nothing is
   acted on automatically. Allow-list matches cancel regardless of signal type: a false
   positive listed by its SHA-256 cancels a PDQ match of the same file.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown import metrics
from takedown.config import Settings
from takedown.db.session import Database
from takedown.errors import NotFound
from takedown.matching.hasher import HashResult, hash_bytes
from takedown.matching.matcher import Match
from takedown.matching.models import Bank, BankEntry, BankRole
from takedown.matching.signals import PdqSignal, get_signal_type
from takedown.matching.state import BankIndex, index_for

_ID_BATCH: Final = 1_000


@dataclass(frozen=True, slots=True)
class EntryRef:
    """Names one bank entry (what cancelled a block-list match)."""

    bank: str
    entry_id: int


@dataclass(frozen=True, slots=True)
class BankMatch:
    """One bank entry that the content matches, with the entry's metadata."""

    bank: str
    bank_role: BankRole
    entry_id: int
    signal_type: str
    distance: int
    # The rotation or flip that turns the known image into the content (PDQ); None for
    # exact types.
    variant: str | None
    value: str
    quality: int | None
    source: str
    classification: str
    added_by: str
    added_at: datetime
    note: str
    cancelled_by: tuple[EntryRef, ...] = field(default=())

    @property
    def effective(self) -> bool:
        """A block-list match that no allow-list match cancelled: known material."""
        return self.bank_role is BankRole.BLOCK_LIST and not self.cancelled_by


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """Every match of one piece of content, nearest first."""

    matches: list[BankMatch]

    @property
    def known(self) -> bool:
        """True when some block-list match stands (none was cancelled by an allow list)."""
        return any(m.effective for m in self.matches)

    @property
    def allowed(self) -> bool:
        """True when the content matches an allow-list bank."""
        return any(m.bank_role is BankRole.ALLOW_LIST for m in self.matches)

    @property
    def effective(self) -> list[BankMatch]:
        return [m for m in self.matches if m.effective]


def hash_content(data: bytes, settings: Settings, *, require_image: bool = True) -> HashResult:
    """Every signal of ``data`` under the configured byte, pixel and quality limits."""
    return hash_bytes(
        data,
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
        quality_floor=settings.pdq_quality_floor,
        require_image=require_image,
    )


def index_of(database: Database, settings: Settings) -> BankIndex:
    """This process's match index of ``database``, with the configured quality floor."""
    return index_for(database, quality_floor=settings.pdq_quality_floor)


@metrics.timed_match
def match_hashes(
    session: Session,
    content: HashResult | Mapping[str, str],
    *,
    index: BankIndex,
    banks: Collection[str] | None = None,
) -> MatchOutcome:
    """Match hashed content, or ``{signal type: value}``, against the enabled banks.

    ``banks`` restricts the match to banks of those names (NotFound for an unknown one).
    Signals given as a mapping have no quality and no rotations: a PDQ hash given that way
    matches in its own orientation only.
    """
    index.sync(session)
    selected = _banks(session, banks)
    if not selected:
        return MatchOutcome([])
    limit = max(bank.pdq_threshold for bank in selected.values())
    thresholds = {PdqSignal.name: limit}
    if isinstance(content, HashResult):
        hits = index.match(content, thresholds)
    else:
        hits = []
        for name, value in content.items():
            kind = get_signal_type(name)
            hits.extend(index.lookup(kind.name, value, thresholds.get(kind.name)))
    return MatchOutcome(_resolve(session, hits, selected))


def _banks(session: Session, names: Collection[str] | None) -> dict[uuid.UUID, Bank]:
    query = select(Bank).where(Bank.enabled)
    if names is not None:
        wanted = set(names)
        query = query.where(Bank.name.in_(wanted))
    found = {bank.id: bank for bank in session.scalars(query)}
    if names is not None:
        missing = wanted - {bank.name for bank in found.values()}
        if missing:
            raise NotFound(f"no enabled bank named {', '.join(sorted(missing))}")
    return found


def _resolve(
    session: Session, hits: list[Match], banks: Mapping[uuid.UUID, Bank]
) -> list[BankMatch]:
    """Join hits to their entries and banks, apply per-bank thresholds and allow lists."""
    entries: dict[int, BankEntry] = {}
    ids = sorted({hit.entry_id for hit in hits})
    for start in range(0, len(ids), _ID_BATCH):
        chunk = ids[start : start + _ID_BATCH]
        for row in session.scalars(select(BankEntry).where(BankEntry.id.in_(chunk))):
            entries[row.id] = row
    found: list[BankMatch] = []
    for hit in hits:
        entry = entries.get(hit.entry_id)
        bank = banks.get(entry.bank_id) if entry is not None else None
        if entry is None or bank is None or not entry.enabled:
            continue
        if hit.signal_type == PdqSignal.name and hit.distance > bank.pdq_threshold:
            continue
        found.append(_bank_match(hit, entry, bank))
    allow = tuple(EntryRef(m.bank, m.entry_id) for m in found if m.bank_role is BankRole.ALLOW_LIST)
    if allow:
        found = [
            replace(m, cancelled_by=allow) if m.bank_role is BankRole.BLOCK_LIST else m
            for m in found
        ]
    return sorted(found, key=lambda m: (m.distance, m.bank, m.entry_id))


def _bank_match(hit: Match, entry: BankEntry, bank: Bank) -> BankMatch:
    return BankMatch(
        bank=bank.name,
        bank_role=bank.role,
        entry_id=entry.id,
        signal_type=entry.signal_type,
        distance=hit.distance,
        variant=hit.variant,
        value=entry.value,
        quality=entry.quality,
        source=entry.source,
        classification=entry.classification,
        added_by=entry.added_by,
        added_at=entry.added_at,
        note=entry.note,
    )
