"""Multi-index hashing buckets for 256-bit hashes, exact and updatable in place.

Why it is exact. A hash is cut into 16 chunks of 16 bits, and chunks ``2i`` and ``2i + 1``
form 8 blocks of 32 bits. Let two hashes be at most ``t`` bits apart.

* Some block differs in at most ``b = t // 8`` bits: if all 8 differed in more, the distance
  would be at least ``8 * (b + 1) > t``.
* Inside that block one of its two chunks differs in at most ``b // 2 = t // 16 = r`` bits.

So, for each of the 16 chunks, looking up the buckets of every key within ``r`` bits of the
query's chunk finds every stored hash within ``t`` (for the PDQ threshold 31: 16 chunks x 17
keys = 272 buckets). And when a hash is found through the chunk of that good block, its
*partner* chunk (the other half of the block) is at most ``b`` bits from the query's. Each
bucket slot therefore stores, next to the row number, the row's partner chunk, and a
candidate whose partner is further than ``b`` is dropped without reading its hash: if it is a
match at all it is kept through its good chunk. At ``t = 31`` a random candidate passes with
probability 697/65536 (about 1 %), so of the ~4,200 candidates per query on 1M random hashes
only ~45 reach the full comparison. Measured on this 2-core VM at 1M hashes: about 22k
queries/s instead of 17k when every candidate's 128-bit half-hash was read, and 4k when all
32 bytes were (memory latency, not arithmetic, is the cost).

Layout: ``16 * 65536`` buckets, each a contiguous run in two parallel slabs (``int32`` rows,
``uint16`` partner chunks), described by a directory row ``[start, count]`` and a capacity.
Buckets have headroom, so an insert usually writes into its 16 buckets' free space. A full
bucket moves to the end of the slab with more room; abandoned runs are reclaimed by compacting
the slab once they exceed the live space. That is a copy of the buckets, never a rebuild from
the hashes, and its cost is amortised over the inserts that caused it (like a list resize).
Removal swaps the row with the last one in each of its 16 buckets, so queries never see
removed rows and no tombstones accumulate.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

CHUNKS: Final = 16
CHUNK_BITS: Final = 16
KEYS_PER_CHUNK: Final = 1 << CHUNK_BITS
BUCKETS: Final = CHUNKS * KEYS_PER_CHUNK
# Radius 2 (thresholds 32-47) reads 2,192 buckets, still 5x faster than a linear scan at 1M
# hashes; radius 3 (11,152 buckets, ~170,000 candidates at 1M) measured 6x slower than the
# scan, so from threshold 48 on the caller scans instead.
MAX_RADIUS: Final = 2

Ints = npt.NDArray[np.int64]
Rows = npt.NDArray[np.int32]
AnyInts = npt.NDArray[np.signedinteger[Any]]
# Slab positions and row numbers are int32 to halve the directory: up to 2**31 slots, which
# is about 110M hashes at 16 slots (plus headroom) each.
MAX_SLOTS: Final = 2**31 - 1
Keys = npt.NDArray[np.uint16]

_CHUNK_BASE: Final = (np.arange(CHUNKS, dtype=np.int64) * KEYS_PER_CHUNK).reshape(CHUNKS, 1)
_PARTNER: Final = np.arange(CHUNKS) ^ 1
_VALUES: Final = np.arange(KEYS_PER_CHUNK, dtype=np.uint16)
_POPCOUNT: Final = np.bitwise_count(_VALUES)


def _masks_within(radius: int) -> Keys:
    within = _VALUES[np.less_equal(_POPCOUNT, radius)]
    # Exact key first, then by number of flipped bits; the order does not change results.
    return within[np.argsort(_POPCOUNT[within], kind="stable")]


# XOR masks of every radius (1, 17 and 137 keys per chunk), the query's partner chunk for each
# probe in the same (chunk, mask) order, and "popcount <= budget" lookup tables.
_MASKS: Final = tuple(_masks_within(radius) for radius in range(MAX_RADIUS + 1))
_PROBE_PARTNER: Final = tuple(np.repeat(_PARTNER, len(masks)) for masks in _MASKS)
_WITHIN: Final = tuple(np.less_equal(_POPCOUNT, budget) for budget in range(2 * MAX_RADIUS + 2))


def radius_for(threshold: int) -> int:
    """The per-chunk probe radius that makes a search at ``threshold`` exact."""
    return threshold // CHUNKS


def probes_per_query(radius: int) -> int:
    """How many buckets one query reads at ``radius``."""
    return CHUNKS * len(_MASKS[radius])


def _capacity(count: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    # 6 % headroom plus one: at 1M hashes a bucket holds 15 rows on average, so the slabs
    # are about 1.13x the rows; adding 1 % more hashes moves only about 1 % of the buckets.
    return count + (count >> 4) + 1


_arange: Ints = np.arange(1 << 16, dtype=np.int64)


def _expand(starts: AnyInts, counts: AnyInts) -> Ints:
    """Concatenate the index ranges ``[start, start + count)`` without a Python loop."""
    global _arange
    ends = counts.cumsum()
    total = int(ends[-1]) if len(ends) else 0
    if total > len(_arange):
        # Replaced, never resized in place, so a concurrent reader keeps a valid array.
        _arange = np.arange(2 * total, dtype=np.int64)
    positions: Ints = (starts + counts - ends).repeat(counts)
    positions += _arange[:total]
    return positions


class MultiIndexTable:
    """The 16 x 65536 buckets of row numbers; the caller owns the hashes behind the rows."""

    # Batches larger than this are inserted chunk by chunk (see ``insert``).
    BULK: Final = 65_536

    def __init__(self) -> None:
        # Column 0 is where a bucket starts in the slabs, column 1 how many rows it holds. One
        # array, so a query fetches both with a single gather.
        self._dir = np.zeros((BUCKETS, 2), dtype=np.int32)
        self._cap = np.zeros(BUCKETS, dtype=np.int32)
        self._rows: Rows = np.empty(0, dtype=np.int32)
        self._partners: Keys = np.empty(0, dtype=np.uint16)
        self._end = 0  # slab high-water mark
        self._live_capacity = 0  # sum of all bucket capacities
        self.compactions = 0

    @property
    def nbytes(self) -> int:
        slabs = self._rows.nbytes + self._partners.nbytes
        return self._dir.nbytes + self._cap.nbytes + slabs

    # -- updates ----------------------------------------------------------------------------

    def insert(self, rows: Ints, keys: Keys) -> None:
        """Add ``rows`` (k,) whose chunk values are ``keys`` (k, 16) uint16."""
        members = rows.astype(np.int32)
        # Small batches do all 16 chunks in one vectorised pass (a single add is ~20 numpy
        # calls); big ones go chunk by chunk so the temporaries stay at ~20 bytes per row
        # instead of 16 x 20 (a 1M-hash load would otherwise need 300 MB more at its peak).
        step = CHUNKS if len(rows) <= self.BULK else 1
        for first in range(0, CHUNKS, step):
            self._insert_sorted(*_group_by_bucket(members, keys, range(first, first + step)))
        if len(rows) > self.BULK:
            self._trim()

    def delete(self, row: int, keys: Keys) -> None:
        """Remove ``row``, whose chunk values are ``keys`` (16,), from its 16 buckets."""
        buckets = keys.astype(np.int64) + _CHUNK_BASE[:, 0]
        starts = self._dir[buckets, 0]
        counts = self._dir[buckets, 1]
        positions = _expand(starts, counts)
        found = positions[self._rows[positions] == row]
        if len(found) != CHUNKS:
            raise KeyError(f"row {row} is not in all of its buckets")
        # Overwrite each occurrence with its bucket's last slot; found is in bucket order.
        last = starts + counts - 1
        self._rows[found] = self._rows[last]
        self._partners[found] = self._partners[last]
        self._dir[buckets, 1] = counts - 1

    def _insert_sorted(self, buckets: Ints, members: Rows, partners: Keys) -> None:
        """Append members to their buckets; ``buckets`` is sorted."""
        if len(buckets) == 0:
            return
        starts_group = np.empty(len(buckets), dtype=np.bool_)
        starts_group[0] = True
        np.not_equal(buckets[1:], buckets[:-1], out=starts_group[1:])
        first = np.flatnonzero(starts_group)
        unique = buckets[first]
        added = np.diff(first, append=len(buckets))
        need = self._dir[unique, 1] + added
        full = need > self._cap[unique]
        if full.any():
            self._move(unique[full], need[full])
        rank = np.arange(len(buckets), dtype=np.int64) - np.repeat(first, added)
        positions = np.repeat(self._dir[unique, 0] + self._dir[unique, 1], added) + rank
        self._rows[positions] = members
        self._partners[positions] = partners
        self._dir[unique, 1] = need

    def _move(self, buckets: Ints, need: npt.NDArray[np.int32]) -> None:
        """Give full ``buckets`` new, larger runs at the end of the slabs."""
        capacity = _capacity(need)
        total = int(capacity.sum())
        if self._end + total > len(self._rows):
            if self._end - self._live_capacity > self._live_capacity:
                self._compact()
            self._reserve(self._end + total)
        starts = self._end + np.cumsum(capacity) - capacity
        counts = self._dir[buckets, 1]
        old = _expand(self._dir[buckets, 0], counts)
        new = _expand(starts, counts)
        self._rows[new] = self._rows[old]
        self._partners[new] = self._partners[old]
        self._live_capacity += total - int(self._cap[buckets].sum())
        self._dir[buckets, 0] = starts
        self._cap[buckets] = capacity
        self._end += total

    def _reserve(self, size: int) -> None:
        if size > len(self._rows):
            # Grow by a quarter: amortised O(1) per slot, at most 25 % unused at the end.
            self._resize(max(size, len(self._rows) * 5 // 4, 1024))

    def _trim(self) -> None:
        """After a bulk load, drop the growth slack beyond 1/32 of headroom."""
        target = max(self._end + self._end // 32, 1024)
        if len(self._rows) > target:
            self._resize(target)

    def _resize(self, size: int) -> None:
        if size > MAX_SLOTS:
            raise OverflowError("the PDQ index is full (about 110 million hashes)")
        rows = np.empty(size, dtype=np.int32)
        partners = np.empty(size, dtype=np.uint16)
        rows[: self._end] = self._rows[: self._end]
        partners[: self._end] = self._partners[: self._end]
        self._rows, self._partners = rows, partners

    def _compact(self) -> None:
        """Rewrite the slabs with every bucket packed in order, dropping abandoned runs."""
        counts = self._dir[:, 1]
        capacity = np.where(counts > 0, _capacity(counts), 0)
        starts = np.cumsum(capacity) - capacity
        total = int(capacity.sum())
        old = _expand(self._dir[:, 0], counts)
        new = _expand(starts, counts)
        if total > MAX_SLOTS:
            raise OverflowError("the PDQ index is full (about 110 million hashes)")
        rows = np.empty(max(total + total // 32, 1024), dtype=np.int32)
        partners = np.empty(len(rows), dtype=np.uint16)
        rows[new] = self._rows[old]
        partners[new] = self._partners[old]
        self._rows, self._partners = rows, partners
        self._dir[:, 0] = starts
        self._cap = capacity
        self._end = self._live_capacity = total
        self.compactions += 1

    # -- queries ----------------------------------------------------------------------------

    def candidates(self, keys: Keys, threshold: int) -> tuple[Rows, Ints]:
        """Rows that may be within ``threshold`` of each query, and their query numbers.

        ``keys`` is (b, 16) uint16, one row of chunk values per query. Every stored row
        within ``threshold`` of a query is returned for it at least once (possibly more: once
        per chunk it is near in); most others are not. The caller verifies.
        """
        radius = radius_for(threshold)
        probes = np.add(keys[:, :, None] ^ _MASKS[radius], _CHUNK_BASE).ravel()
        directory = np.take(self._dir, probes, axis=0)
        counts = directory[:, 1]
        positions = _expand(directory[:, 0], counts)
        query_partners = np.repeat(keys[:, _PROBE_PARTNER[radius]].ravel(), counts)
        differences = np.take(self._partners, positions) ^ query_partners
        near = np.flatnonzero(np.take(_WITHIN[threshold // 8], differences))
        per_query_end = np.cumsum(counts.reshape(len(keys), -1).sum(axis=1))
        numbers = np.searchsorted(per_query_end, near, side="right")
        return np.take(self._rows, positions[near]), numbers

    def single_candidates(self, keys: Keys, threshold: int) -> Rows:
        """``candidates`` for one query's keys (16,): the hot path, in fewer numpy calls.

        (ndarray methods instead of the ``np.`` functions skip a Python wrapper each.)
        """
        radius = radius_for(threshold)
        probes = np.add(keys[:, None] ^ _MASKS[radius], _CHUNK_BASE).ravel()
        directory = self._dir.take(probes, axis=0)
        counts = directory[:, 1]
        positions = _expand(directory[:, 0], counts)
        differences = self._partners.take(positions)
        differences ^= keys[_PROBE_PARTNER[radius]].repeat(counts)
        near = _WITHIN[threshold // 8].take(differences).nonzero()[0]
        return self._rows.take(positions[near])


def _group_by_bucket(members: Rows, keys: Keys, chunks: range) -> tuple[Ints, Rows, Keys]:
    """Bucket numbers of every (row, chunk) pair, sorted, with the rows and partner chunks."""
    if len(chunks) == 1:
        # One chunk of a bulk load: sorting on the 16-bit key lets numpy use its radix sort,
        # an order of magnitude faster than sorting 64-bit bucket numbers.
        chunk = chunks[0]
        column = keys[:, chunk]
        order = np.argsort(column, kind="stable")
        buckets = column[order].astype(np.int64) + chunk * KEYS_PER_CHUNK
        return buckets, members[order], keys[order, chunk ^ 1]
    # All chunks of a small batch at once, chunk-major: one row's 16 buckets are already in
    # order, so a single add needs no sort at all.
    buckets = (keys.astype(np.int64) + _CHUNK_BASE.T).T.ravel()
    rows = np.tile(members, CHUNKS)
    partners = keys[:, _PARTNER].T.ravel()
    if len(members) > 1:
        order = np.argsort(buckets, kind="stable")
        return buckets[order], rows[order], partners[order]
    return buckets, rows, partners
