"""A compact map from entry id to row number for indexes of millions of entries.

A Python ``dict[int, int]`` costs about 100 bytes per entry (the table plus two int objects),
100 MB per million hashes: half the PDQ index's memory budget. This map keeps the bulk in two
sorted numpy arrays (16 bytes per entry, binary search) and only recent inserts in a small
dict, merged into the arrays once it holds ``MERGE_AT`` entries. The merge is a linear
``searchsorted`` + ``insert``, amortised to about a microsecond per insert at 1M entries.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

MERGE_AT: Final = 65_536
_DELETED: Final = -1


class IdMap:
    """entry id (int64) -> row (non-negative int). Not thread-safe; the index locks."""

    def __init__(self) -> None:
        self._ids: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        # Row numbers fit in int32 (the PDQ index holds at most ~110M rows); 4 bytes saved
        # per entry.
        self._rows: npt.NDArray[np.int32] = np.empty(0, dtype=np.int32)
        self._recent: dict[int, int] = {}
        self._deleted = 0

    def __len__(self) -> int:
        return len(self._ids) - self._deleted + len(self._recent)

    @property
    def nbytes(self) -> int:
        """Approximate memory: the arrays, plus about 100 bytes per recent dict entry."""
        return self._ids.nbytes + self._rows.nbytes + 100 * len(self._recent)

    def get(self, entry_id: int) -> int | None:
        row = self._recent.get(entry_id)
        if row is not None:
            return row
        position = self._find(entry_id)
        return None if position is None else int(self._rows[position])

    def set(self, entry_id: int, row: int) -> None:
        """Map an id that is not in the map."""
        position = self._find(entry_id, deleted_too=True)
        if position is not None:
            if self._rows[position] != _DELETED:
                raise KeyError(f"entry {entry_id} is already mapped")
            self._rows[position] = row
            self._deleted -= 1
            return
        if entry_id in self._recent:
            raise KeyError(f"entry {entry_id} is already mapped")
        self._recent[entry_id] = row
        if len(self._recent) >= MERGE_AT:
            self._merge()

    def set_many(self, entry_ids: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> None:
        """Map many ids that are not in the map (and are distinct)."""
        if len(entry_ids) + len(self._recent) < MERGE_AT:
            for entry_id, row in zip(entry_ids.tolist(), rows.tolist(), strict=True):
                self.set(entry_id, row)
            return
        self._merge(entry_ids, rows)

    def pop(self, entry_id: int) -> int | None:
        """Unmap ``entry_id`` and return its row, or None if it was not mapped."""
        row = self._recent.pop(entry_id, None)
        if row is not None:
            return row
        position = self._find(entry_id)
        if position is None:
            return None
        row = int(self._rows[position])
        self._rows[position] = _DELETED
        self._deleted += 1
        if self._deleted > len(self._ids) // 2:
            self._merge()
        return row

    def _find(self, entry_id: int, *, deleted_too: bool = False) -> int | None:
        position = int(np.searchsorted(self._ids, entry_id))
        if position == len(self._ids) or self._ids[position] != entry_id:
            return None
        if not deleted_too and self._rows[position] == _DELETED:
            return None
        return position

    def _merge(
        self,
        extra_ids: npt.NDArray[np.int64] | None = None,
        extra_rows: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Fold the recent dict (and any extra pairs) into the sorted arrays."""
        live = self._rows != _DELETED
        base_ids = self._ids[live]
        base_rows = self._rows[live]
        new_ids = np.fromiter(self._recent.keys(), dtype=np.int64, count=len(self._recent))
        new_rows = np.fromiter(self._recent.values(), dtype=np.int64, count=len(self._recent))
        if extra_ids is not None and extra_rows is not None:
            new_ids = np.concatenate([new_ids, extra_ids.astype(np.int64, copy=False)])
            new_rows = np.concatenate([new_rows, extra_rows.astype(np.int64, copy=False)])
        order = np.argsort(new_ids, kind="stable")
        new_ids = new_ids[order]
        new_rows = new_rows[order]
        at = np.searchsorted(base_ids, new_ids)
        self._ids = np.insert(base_ids, at, new_ids)
        self._rows = np.insert(base_rows, at, new_rows)
        self._recent = {}
        self._deleted = 0
