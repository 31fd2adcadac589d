"""The PDQ index is exact: it agrees with brute force, in place, and through save/load."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest

from takedown.matching import InvalidIndexFile, InvalidSignal, PdqIndex
from takedown.matching.mih import MultiIndexTable

from .support import flip_bits, random_hashes

THRESHOLDS = [0, 1, 8, 15, 16, 17, 31, 32, 40, 47, 48, 63, 64, 90, 128, 256]


class AlwaysBuckets(PdqIndex):
    """Uses the buckets from the first entry, so small tests exercise them too."""

    SCAN_BELOW = 0


def brute_force(
    hashes: np.ndarray, ids: np.ndarray, query: np.ndarray, threshold: int
) -> list[tuple[int, int]]:
    distances = np.bitwise_count(hashes ^ query).sum(axis=1)
    near = distances <= threshold
    return sorted(
        zip(ids[near].tolist(), distances[near].tolist(), strict=True),
        key=lambda hit: (hit[1], hit[0]),
    )


def planted_queries(hashes: np.ndarray, count: int, seed: int, max_bits: int) -> np.ndarray:
    """Half near-duplicates of stored hashes (0..max_bits bits flipped), half random."""
    rng = np.random.default_rng(seed)
    queries = []
    for number in range(count):
        if number % 2:
            queries.append(rng.integers(0, 256, 32, dtype=np.uint8))
        else:
            base = hashes[rng.integers(len(hashes))]
            queries.append(flip_bits(base, int(rng.integers(0, max_bits + 1)), rng))
    return np.array(queries)


def clustered(count: int, seed: int) -> np.ndarray:
    """Hashes in tight families (like re-encodes of the same photos): buckets get crowded."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, (max(count // 50, 1), 32), dtype=np.uint8)
    picks = centres[rng.integers(0, len(centres), count)]
    return np.array([flip_bits(h, int(rng.integers(0, 40)), rng) for h in picks])


def build(cls: type[PdqIndex], hashes: np.ndarray, ids: np.ndarray) -> PdqIndex:
    index = cls()
    index.add_many(zip(ids.tolist(), (h.tobytes().hex() for h in hashes), strict=True))
    return index


@pytest.mark.parametrize(
    ("cls", "count", "data"),
    [
        (PdqIndex, 300, "random"),  # linear scan
        (AlwaysBuckets, 300, "random"),  # buckets on a small index
        (PdqIndex, 20_000, "random"),  # buckets, chosen by size
        (AlwaysBuckets, 5_000, "clustered"),
    ],
    ids=["scan", "buckets-small", "buckets-large", "clustered"],
)
def test_agrees_with_brute_force(cls: type[PdqIndex], count: int, data: str) -> None:
    hashes = random_hashes(count, seed=1) if data == "random" else clustered(count, seed=2)
    ids = np.arange(count, dtype=np.int64) * 3 + 1000
    index = build(cls, hashes, ids)
    queries = planted_queries(hashes, 40, seed=3, max_bits=70)
    for threshold in THRESHOLDS:
        expected = [brute_force(hashes, ids, q, threshold) for q in queries]
        single = [index.query(q.tobytes().hex(), threshold) for q in queries]
        batched = index.query_many([q.tobytes().hex() for q in queries], threshold)
        assert single == expected, threshold
        assert batched == expected, threshold


def test_complement_at_distance_256_is_not_a_near_match() -> None:
    # The scan sums 4 popcounts modulo 256, so a full complement reads 0 before re-checking.
    hashes = random_hashes(10, seed=4)
    index = build(PdqIndex, hashes, np.arange(10))
    complement = (~hashes[3]).tobytes().hex()
    assert index.query(complement, 31) == []
    assert (3, 256) in index.query(complement, 256)


def test_additions_and_removals_change_the_index_in_place() -> None:
    rng = np.random.default_rng(5)
    index = AlwaysBuckets()
    stored: dict[int, np.ndarray] = {}
    table: MultiIndexTable | None = None
    for step in range(40):
        fresh = random_hashes(int(rng.integers(1, 400)), seed=100 + step)
        # Some new hashes are near-copies of stored ones, to crowd buckets.
        if stored and step % 3 == 0:
            keys = list(stored)
            fresh[:10] = [
                flip_bits(stored[keys[int(rng.integers(len(keys)))]], 3, rng) for _ in range(10)
            ]
        start = 10_000 * step
        index.add_many((start + i, h.tobytes().hex()) for i, h in enumerate(fresh))
        stored.update({start + i: h for i, h in enumerate(fresh)})
        for entry_id in rng.choice(list(stored), size=len(stored) // 5, replace=False).tolist():
            assert index.remove(entry_id)
            del stored[entry_id]
        if table is None:
            table = index._table
        assert index._table is table  # never rebuilt
        assert len(index) == len(stored)
    ids = np.array(list(stored), dtype=np.int64)
    hashes = np.array(list(stored.values()))
    for query in planted_queries(hashes, 30, seed=6, max_bits=40):
        assert index.query(query.tobytes().hex(), 31) == brute_force(hashes, ids, query, 31)


def test_crowded_buckets_move_and_the_slab_is_compacted_in_place() -> None:
    rng = np.random.default_rng(12)
    base = random_hashes(1, seed=13)[0]
    index = AlwaysBuckets()
    stored: dict[int, np.ndarray] = {}
    for entry_id in range(3_000):  # one at a time: the same 16 buckets fill up and move
        value = flip_bits(base, int(rng.integers(0, 4)), rng)
        index.add(entry_id, value.tobytes().hex())
        stored[entry_id] = value
    table = index._table
    assert table is not None
    assert table.compactions >= 1
    for entry_id in range(0, 3_000, 2):
        index.remove(entry_id)
        del stored[entry_id]
    ids = np.array(list(stored), dtype=np.int64)
    hashes = np.array(list(stored.values()))
    for threshold in (0, 2, 31, 47, 64):
        expected = brute_force(hashes, ids, base, threshold)
        assert index.query(base.tobytes().hex(), threshold) == expected
    assert index._table is table


def test_add_replaces_the_value_of_an_existing_entry() -> None:
    index = AlwaysBuckets()
    first, second = random_hashes(2, seed=7)
    index.add(42, first.tobytes().hex())
    index.add(42, second.tobytes().hex())
    assert len(index) == 1
    assert index.get(42) == second.tobytes().hex()
    assert index.query(first.tobytes().hex(), 31) == []
    assert index.query(second.tobytes().hex(), 31) == [(42, 0)]


def test_removed_entries_are_never_returned_and_ids_can_come_back() -> None:
    hashes = random_hashes(50, seed=8)
    index = build(AlwaysBuckets, hashes, np.arange(50))
    value = hashes[7].tobytes().hex()
    assert index.remove(7)
    assert not index.remove(7)
    assert 7 not in index
    assert index.query(value, 256) == [hit for hit in index.query(value, 256) if hit[0] != 7]
    assert all(entry_id != 7 for entry_id, _ in index.query(value, 256))
    index.add(7, value)
    assert index.query(value, 0) == [(7, 0)]


def test_same_hash_under_two_entries_returns_both() -> None:
    value = random_hashes(1, seed=9)[0].tobytes().hex()
    index = AlwaysBuckets()
    index.add_many([(1, value), (2, value)])
    assert index.query(value, 0) == [(1, 0), (2, 0)]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    hashes = random_hashes(6_000, seed=10)
    ids = np.arange(6_000, dtype=np.int64) * 7 - 20_000  # negative ids are fine too
    index = build(PdqIndex, hashes, ids)
    for entry_id in ids[:100].tolist():
        index.remove(entry_id)
    path = tmp_path / "pdq.index"
    index.save(path)
    assert path.exists()
    assert not list(tmp_path.glob(".*"))
    loaded = PdqIndex.load(path)
    assert len(loaded) == len(index) == 5_900
    buffer = io.BytesIO()
    index.save(buffer)
    buffer.seek(0)
    from_buffer = PdqIndex.load(buffer)
    for query in planted_queries(hashes, 20, seed=11, max_bits=31):
        value = query.tobytes().hex()
        assert loaded.query(value) == index.query(value) == from_buffer.query(value)


class Exploit:
    """Unpickling this would run code; loading must refuse it before that."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pickle was loaded",))


def test_a_pickle_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(InvalidIndexFile, match="pickle"):
        PdqIndex.load(path)
    assert "pickle was loaded" not in capsys.readouterr().out


def test_an_npz_holding_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    with path.open("wb") as handle:
        np.savez(
            handle,
            version=np.array(1),
            kind=np.array("pdq"),
            ids=np.array([Exploit()], dtype=object),
            values=np.zeros((1, 32), dtype=np.uint8),
        )
    with pytest.raises(InvalidIndexFile):
        PdqIndex.load(path)


@pytest.mark.parametrize(
    "arrays",
    [
        {"kind": "md5", "ids": np.zeros(1, np.int64), "values": np.zeros((1, 16), np.uint8)},
        {"kind": "pdq", "ids": np.zeros(1, np.int32), "values": np.zeros((1, 32), np.uint8)},
        {"kind": "pdq", "ids": np.zeros(2, np.int64), "values": np.zeros((2, 32), np.uint8)},
        {"kind": "pdq", "ids": np.zeros(1, np.int64), "values": np.zeros((1, 31), np.uint8)},
        {"kind": "pdq", "ids": np.zeros(1, np.int64)},
    ],
    ids=["other-kind", "int32-ids", "repeated-ids", "short-values", "missing-values"],
)
def test_malformed_index_files_are_refused(tmp_path: Path, arrays: dict[str, object]) -> None:
    path = tmp_path / "bad.npz"
    with path.open("wb") as handle:
        np.savez(handle, version=np.array(1), **arrays)  # type: ignore[arg-type]
    with pytest.raises(InvalidIndexFile):
        PdqIndex.load(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", np.zeros(3).tobytes()])
def test_garbage_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(content)
    with pytest.raises(InvalidIndexFile):
        PdqIndex.load(path)


def test_a_bare_npy_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bare.npy"
    np.save(path, np.zeros((2, 32), dtype=np.uint8))
    with pytest.raises(InvalidIndexFile, match="bare array"):
        PdqIndex.load(path)


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "a" * 63, "a" * 65, " " + "a" * 63, 42])
def test_invalid_hashes_are_refused(value: object) -> None:
    index = PdqIndex()
    with pytest.raises(InvalidSignal):
        index.add(1, value)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignal):
        index.query(value)  # type: ignore[arg-type]
    assert len(index) == 0


@pytest.mark.parametrize("entry_id", [1.5, "7", True, 2**63, -(2**63) - 1])
def test_invalid_entry_ids_are_refused(entry_id: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        PdqIndex().add(entry_id, "0" * 64)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [-1, 1.5, True])
def test_invalid_thresholds_are_refused(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        PdqIndex().query("0" * 64, threshold)  # type: ignore[arg-type]


def test_empty_index_answers_nothing() -> None:
    index = PdqIndex()
    assert index.query("0" * 64, 256) == []
    assert index.query_many(["0" * 64, "f" * 64], 31) == [[], []]
    assert not index.remove(1)
