"""Match content against known entries: one in-memory index per signal type.

The bank layer fills a ``Matcher`` from the database (entry id = bank content id) and keeps it
current with ``add``/``remove``; capture and scans call ``match`` with a ``HashResult``. A
match names the entry, the signal type, the distance and, for PDQ, which rotation or flip of
the known image the content is. Banks, thresholds per bank and metadata are joined by the
caller from the entry id: query with the largest threshold of the banks concerned and filter
by each bank's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from takedown.errors import ValidationFailed
from takedown.matching.hasher import HashResult
from takedown.matching.index import SignalIndex, check_entry_id
from takedown.matching.pdq import DEFAULT_QUALITY_FLOOR
from takedown.matching.signals import SIGNAL_TYPES, Signal, SignalType, get_signal_type


@dataclass(frozen=True, slots=True)
class Match:
    """One known entry that the content matches."""

    entry_id: int
    signal_type: str
    distance: int
    # For signal types with variants (PDQ): how the content relates to the known image,
    # "original" or the rotation/flip that turns the known image into the content (named
    # like the files in tests/data/pdq/dih: "rotate90" means the content is the known image
    # turned the way bridge-2-rotate-90.jpg is turned from bridge-1-original.jpg). None for
    # exact types.
    variant: str | None = None


class Matcher:
    """Indexes for every signal type, updated in place, queried by content or by hash."""

    def __init__(
        self,
        *,
        quality_floor: int = DEFAULT_QUALITY_FLOOR,
        signal_types: Iterable[type[SignalType]] | None = None,
    ) -> None:
        types = list(SIGNAL_TYPES.values() if signal_types is None else signal_types)
        self.quality_floor = quality_floor
        self._types: dict[str, type[SignalType]] = {t.name: t for t in types}
        self._indexes: dict[str, SignalIndex] = {t.name: t.new_index() for t in types}

    def index(self, signal_type: str) -> SignalIndex:
        """The index of one signal type (for its ``len``, ``get`` or bulk ``add_many``)."""
        self._signal_type(signal_type)
        return self._indexes[signal_type]

    def counts(self) -> dict[str, int]:
        """Entries per signal type, e.g. for a status page."""
        return {name: len(index) for name, index in self._indexes.items()}

    # -- updates ----------------------------------------------------------------------------

    def add(
        self, entry_id: int, signal_type: str, value: str, *, quality: int | None = None
    ) -> bool:
        """Index one signal of an entry; True if it is now matchable.

        A signal whose ``quality`` is below the floor is not indexed (and an older value of
        the same entry and type is dropped), so it never produces a match; the caller keeps
        it in the database all the same. ``quality=None`` means unknown (hash lists from
        partners often carry none) and is indexed.
        """
        kind = self._signal_type(signal_type)
        entry_id = check_entry_id(entry_id)
        normalised = kind.validate(value)
        index = self._indexes[signal_type]
        if self._below_floor(kind, quality):
            index.remove(entry_id)
            return False
        index.add(entry_id, normalised)
        return True

    def add_many(self, signal_type: str, entries: Iterable[tuple[int, str]]) -> None:
        """Index many (entry id, value) pairs of one type at once (loading a bank).

        The caller leaves out signals below the quality floor.
        """
        kind = self._signal_type(signal_type)
        self._indexes[signal_type].add_many(
            (entry_id, kind.validate(value)) for entry_id, value in entries
        )

    def remove(self, entry_id: int, signal_type: str | None = None) -> bool:
        """Forget an entry's signal of one type, or of every type; True if any was there."""
        names = list(self._indexes) if signal_type is None else [signal_type]
        removed = False
        for name in names:
            self._signal_type(name)
            removed = self._indexes[name].remove(entry_id) or removed
        return removed

    # -- queries ----------------------------------------------------------------------------

    def match(
        self, result: HashResult, *, thresholds: Mapping[str, int] | None = None
    ) -> list[Match]:
        """Every indexed entry that the hashed content matches, nearest first.

        ``thresholds`` overrides a type's default (PDQ 31). PDQ signals below the quality
        floor are not used; all 8 rotations and flips are, and each entry is reported once,
        through its nearest variant.
        """
        matches: list[Match] = []
        for name, signal in result.signals.items():
            if name in self._indexes:
                matches.extend(self._match_signal(signal, self._threshold(name, thresholds)))
        return sorted(matches, key=_nearest_first)

    def lookup(
        self,
        signal_type: str,
        value: str,
        *,
        threshold: int | None = None,
        quality: int | None = None,
    ) -> list[Match]:
        """Entries matching one signal value (a hash from an API call or a hash list)."""
        kind = self._signal_type(signal_type)
        signal = Signal(signal_type, kind.validate(value), quality)
        limit = self._threshold(
            signal_type, None if threshold is None else {signal_type: threshold}
        )
        return sorted(self._match_signal(signal, limit), key=_nearest_first)

    def _match_signal(self, signal: Signal, threshold: int) -> list[Match]:
        kind = self._types[signal.type]
        if self._below_floor(kind, signal.quality):
            return []
        index = self._indexes[signal.type]
        if not signal.variants:
            plain = kind.variant_names[0] if kind.variant_names else None
            hits = index.query(signal.value, threshold)
            return [Match(entry_id, signal.type, d, plain) for entry_id, d in hits]
        names = [name for name in kind.variant_names if name in signal.variants]
        found = index.query_many([signal.variants[name] for name in names], threshold)
        best: dict[int, Match] = {}
        for name, hits in zip(names, found, strict=True):
            for entry_id, d in hits:
                known = best.get(entry_id)
                # Variants come in the type's order, so on a tie the earlier one (the
                # original first) stays.
                if known is None or d < known.distance:
                    variant = kind.inverse_variant(name)
                    best[entry_id] = Match(entry_id, signal.type, d, variant)
        return list(best.values())

    def _below_floor(self, kind: type[SignalType], quality: int | None) -> bool:
        return kind.has_quality and quality is not None and quality < self.quality_floor

    def _threshold(self, name: str, thresholds: Mapping[str, int] | None) -> int:
        kind = self._types[name]
        if thresholds is None or name not in thresholds:
            return kind.default_threshold
        return kind.check_threshold(thresholds[name])

    def _signal_type(self, name: str) -> type[SignalType]:
        kind = get_signal_type(name)
        if name not in self._indexes:
            raise ValidationFailed(f"This matcher does not index {name!r} signals.")
        return kind

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write one ``<type>.npz`` per signal type into ``directory`` (created if needed)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        for name, index in self._indexes.items():
            index.save(folder / f"{name}.npz")

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        quality_floor: int = DEFAULT_QUALITY_FLOOR,
        signal_types: Iterable[type[SignalType]] | None = None,
    ) -> Self:
        """Read what ``save`` wrote; a type without a file starts empty."""
        matcher = cls(quality_floor=quality_floor, signal_types=signal_types)
        for name, kind in matcher._types.items():
            path = Path(directory) / f"{name}.npz"
            if path.exists():
                matcher._indexes[name] = kind.load_index(path)
        return matcher


def _nearest_first(match: Match) -> tuple[int, str, int]:
    return match.distance, match.signal_type, match.entry_id
