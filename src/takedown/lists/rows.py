"""The rows of a published list, and how a version stores them.

A version's content is its rows as sorted, de-duplicated, tab-separated lines, compressed with
zlib. Sorting makes the content (and so its digest, its exports and their signatures) a pure
function of the rows, and makes diffs a merge of two sorted sequences.

Columns per list:

- urls: expression, case id (empty for an entry made by hand), listed at (ISO 8601, UTC)
- hashes: bank, signal type, value, classification
- keywords: term, reason, added at
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from takedown.lists.models import ListName

Row = tuple[str, ...]

COLUMNS: dict[ListName, tuple[str, ...]] = {
    ListName.URLS: ("expression", "case", "listed_at"),
    ListName.HASHES: ("bank", "signal_type", "value", "classification"),
    ListName.KEYWORDS: ("term", "reason", "added_at"),
}

# Level 6 is zlib's default: a 1,000,000-entry URL list packs in about a second.
_LEVEL = 6


class RowError(ValueError):
    """A row that cannot be stored: wrong width, or a tab or line break inside a field."""


@dataclass(frozen=True, slots=True)
class Packed:
    content: bytes  # compressed
    sha256: str  # of the uncompressed lines
    count: int


def _line(row: Row, width: int) -> str:
    if len(row) != width:
        raise RowError(f"a row has {len(row)} fields, not {width}: {row!r}")
    for field in row:
        if "\t" in field or "\n" in field or "\r" in field:
            raise RowError(f"a field holds a tab or a line break: {field!r}")
    return "\t".join(row)


def pack(name: ListName, rows: Iterable[Row]) -> Packed:
    """Sort, de-duplicate and compress ``rows`` of list ``name``."""
    width = len(COLUMNS[name])
    lines = sorted({_line(row, width) for row in rows})
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    return Packed(zlib.compress(text, _LEVEL), hashlib.sha256(text).hexdigest(), len(lines))


def unpack(content: bytes) -> list[Row]:
    """The rows of a version's content, in their stored (sorted) order."""
    text = zlib.decompress(content).decode("utf-8")
    # Split on "\n" only: str.splitlines() also splits on U+2028, form feed and others,
    # which free text (a bank's classification) may hold.
    return [tuple(line.split("\t")) for line in text.split("\n") if line]


@dataclass(frozen=True, slots=True)
class Diff:
    added: list[Row]
    removed: list[Row]


def diff(old: Sequence[Row], new: Sequence[Row]) -> Diff:
    """Rows in ``new`` and not in ``old`` (added), and the other way round (removed), sorted."""
    old_set, new_set = set(old), set(new)
    return Diff(
        added=sorted(r for r in new if r not in old_set),
        removed=sorted(r for r in old if r not in new_set),
    )
