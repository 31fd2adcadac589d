"""In-memory match indexes: entry id -> signal value, queried by value within a distance.

``ExactIndex`` serves the cryptographic hashes (dictionary lookups). ``PdqIndex`` serves PDQ
with exact Hamming search: every stored hash within the threshold is returned, never an
approximation (see ``mih.py`` for why multi-index hashing is exact). Both change in place as
entries come and go, and save to / load from a plain ``.npz`` of numpy arrays read with
``allow_pickle=False``: an index file can never execute code, unlike the pickles HMA keeps in
PostgreSQL (reference section 1.5).

Entry ids are the caller's int64 keys (bank content ids); the bank and its metadata are
joined by the caller. Indexes are thread-safe: a lock serialises updates and queries.
"""

from __future__ import annotations

import os
import tempfile
import threading
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar, Final, Self, TypeAlias

import numpy as np
import numpy.typing as npt
from numpy.lib.npyio import NpzFile

from takedown.matching.errors import InvalidIndexFile, InvalidSignal

FORMAT_VERSION: Final = 1

IndexTarget: TypeAlias = str | os.PathLike[str] | IO[bytes]
Hit: TypeAlias = tuple[int, int]  # (entry id, distance)

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


class SignalIndex(ABC):
    """The interface every signal type's index offers."""

    kind: ClassVar[str]

    @abstractmethod
    def add_many(self, entries: Iterable[tuple[int, str]]) -> None:
        """Add (entry id, value) pairs; an id already present gets the new value."""

    def add(self, entry_id: int, value: str) -> None:
        self.add_many([(entry_id, value)])

    @abstractmethod
    def remove(self, entry_id: int) -> bool:
        """Remove an entry; False if it was not there."""

    @abstractmethod
    def query_many(self, values: Sequence[str], threshold: int) -> list[list[Hit]]:
        """For each value, the (entry id, distance) pairs within ``threshold``, nearest first."""

    def query(self, value: str, threshold: int) -> list[Hit]:
        return self.query_many([value], threshold)[0]

    @abstractmethod
    def get(self, entry_id: int) -> str | None:
        """The value stored for ``entry_id``."""

    @abstractmethod
    def __len__(self) -> int: ...

    def __contains__(self, entry_id: object) -> bool:
        return isinstance(entry_id, int) and self.get(entry_id) is not None

    @abstractmethod
    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
        """Every entry as (ids (n,), values (n, bytes)), the persisted form."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, ids: npt.NDArray[np.int64], values: npt.NDArray[np.uint8]) -> Self:
        """An index holding these entries (validated)."""

    def save(self, target: IndexTarget) -> None:
        """Write the index as an ``.npz`` (to a path atomically, or to a binary file object)."""
        ids, values = self.arrays()
        write_npz(target, kind=self.kind, ids=ids, values=values)

    @classmethod
    def load(cls, source: IndexTarget) -> Self:
        """Read an index written by ``save``; anything else raises ``InvalidIndexFile``."""
        ids, values = read_npz(source, kind=cls.kind)
        return cls.from_arrays(ids, values)


def check_entry_id(entry_id: int) -> int:
    if isinstance(entry_id, bool) or not isinstance(entry_id, int | np.integer):
        raise TypeError(f"entry ids are integers, not {type(entry_id).__name__}")
    if not _INT64_MIN <= entry_id <= _INT64_MAX:
        raise ValueError(f"entry id {entry_id} does not fit in 64 bits")
    return int(entry_id)


def parse_hex(values: Sequence[str], size: int, kind: str) -> npt.NDArray[np.uint8]:
    """Hex strings of ``size`` bytes each -> an (n, size) uint8 array, or ``InvalidSignal``."""
    width = 2 * size
    for value in values:
        if not isinstance(value, str) or len(value) != width:
            raise InvalidSignal(f"A {kind} hash is {width} hex characters; got {value!r}.")
    try:
        # One fromhex for the whole batch; with every string exactly ``width`` long, the only
        # way to get fewer bytes is whitespace, which is refused below.
        raw = bytes.fromhex("".join(values))
    except ValueError as exc:
        raise InvalidSignal(f"A {kind} hash must be hexadecimal: {exc}") from exc
    if len(raw) != size * len(values):
        raise InvalidSignal(f"A {kind} hash must be hexadecimal without spaces.")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), size).copy()


def write_npz(target: IndexTarget, **arrays: npt.ArrayLike) -> None:
    payload: dict[str, Any] = {"version": np.array(FORMAT_VERSION, dtype=np.int64)}
    payload.update({name: np.asarray(value) for name, value in arrays.items()})
    if not isinstance(target, str | os.PathLike):
        np.savez(target, **payload)
        return
    # Write next to the destination and rename, so readers never see half a file. Passing an
    # open file also stops numpy from appending ".npz" to the name.
    path = Path(target)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_npz(
    source: IndexTarget, *, kind: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Read and check the ids and values arrays of an index file of ``kind``."""
    try:
        if isinstance(source, str | os.PathLike):
            # Opened here so the file is closed even when numpy gives up half-way.
            with Path(source).open("rb") as handle:
                arrays = _read_arrays(handle)
        else:
            arrays = _read_arrays(source)
    except InvalidIndexFile:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # allow_pickle=False makes numpy refuse pickles (and object arrays inside an .npz)
        # with a ValueError before anything is unpickled.
        raise InvalidIndexFile(f"The index file cannot be read: {exc}") from exc
    if arrays["version"].shape != () or int(arrays["version"]) != FORMAT_VERSION:
        raise InvalidIndexFile(f"Unsupported index format version {arrays['version']!r}.")
    if arrays["kind"].shape != () or str(arrays["kind"]) != kind:
        raise InvalidIndexFile(f"The index file holds {arrays['kind']!r}, not {kind!r}.")
    ids, values = arrays["ids"], arrays["values"]
    if ids.dtype != np.int64 or ids.ndim != 1:
        raise InvalidIndexFile("The index ids must be a 1-D int64 array.")
    if values.dtype != np.uint8 or values.ndim != 2 or len(values) != len(ids):
        raise InvalidIndexFile("The index values must be an (n, bytes) uint8 array.")
    if len(np.unique(ids)) != len(ids):
        raise InvalidIndexFile("The index file repeats an entry id.")
    return ids, values


def _read_arrays(handle: IO[bytes]) -> dict[str, npt.NDArray[Any]]:
    loaded = np.load(handle, allow_pickle=False)
    if not isinstance(loaded, NpzFile):
        raise InvalidIndexFile("The index file is a bare array, not an index (.npz).")
    with loaded:
        return {name: loaded[name] for name in ("version", "kind", "ids", "values")}


class ExactIndex(SignalIndex):
    """Exact lookups of fixed-size digests (md5, sha1, sha256): two dictionaries.

    Values are kept as ``bytes`` (half the size of hex strings); one digest can belong to
    several entries (the same file in two banks).
    """

    digest_size: ClassVar[int]

    def __init__(self) -> None:
        self._by_value: dict[bytes, tuple[int, ...]] = {}
        self._by_id: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_id)

    def add_many(self, entries: Iterable[tuple[int, str]]) -> None:
        pairs = [(check_entry_id(entry_id), value) for entry_id, value in entries]
        digests = parse_hex([value for _, value in pairs], self.digest_size, self.kind)
        self._insert([entry_id for entry_id, _ in pairs], digests)

    def _insert(self, entry_ids: list[int], digests: npt.NDArray[np.uint8]) -> None:
        with self._lock:
            for entry_id, digest in zip(entry_ids, digests, strict=True):
                self._remove(entry_id)
                key = digest.tobytes()
                self._by_id[entry_id] = key
                self._by_value[key] = (*self._by_value.get(key, ()), entry_id)

    def remove(self, entry_id: int) -> bool:
        with self._lock:
            return self._remove(entry_id)

    def _remove(self, entry_id: int) -> bool:
        key = self._by_id.pop(entry_id, None)
        if key is None:
            return False
        rest = tuple(other for other in self._by_value[key] if other != entry_id)
        if rest:
            self._by_value[key] = rest
        else:
            del self._by_value[key]
        return True

    def query_many(self, values: Sequence[str], threshold: int = 0) -> list[list[Hit]]:
        digests = parse_hex(values, self.digest_size, self.kind)
        with self._lock:
            found = [self._by_value.get(digest.tobytes(), ()) for digest in digests]
        return [[(entry_id, 0) for entry_id in sorted(ids)] for ids in found]

    def get(self, entry_id: int) -> str | None:
        key = self._by_id.get(entry_id)
        return None if key is None else key.hex()

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
        with self._lock:
            ids = np.fromiter(self._by_id.keys(), dtype=np.int64, count=len(self._by_id))
            raw = b"".join(self._by_id.values())
        values = np.frombuffer(raw, dtype=np.uint8).reshape(len(ids), self.digest_size)
        return ids, values.copy()

    @classmethod
    def from_arrays(cls, ids: npt.NDArray[np.int64], values: npt.NDArray[np.uint8]) -> Self:
        if values.shape[1:] != (cls.digest_size,):
            raise InvalidIndexFile(f"{cls.kind} values must be {cls.digest_size} bytes each.")
        index = cls()
        index._insert(ids.tolist(), values)
        return index


class Md5Index(ExactIndex):
    kind = "md5"
    digest_size = 16


class Sha1Index(ExactIndex):
    kind = "sha1"
    digest_size = 20


class Sha256Index(ExactIndex):
    kind = "sha256"
    digest_size = 32
