"""Signal types: stable names, validation, comparison, hashing bytes, exact indexes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from takedown.errors import ValidationFailed
from takedown.matching import (
    SIGNAL_TYPES,
    BytesHasher,
    ImageHasher,
    InvalidIndexFile,
    InvalidSignal,
    Md5Index,
    Md5Signal,
    PdqSignal,
    Sha1Signal,
    Sha256Index,
    Sha256Signal,
    UnknownSignalType,
    get_signal_type,
)

ABC_MD5 = "900150983cd24fb0d6963f7d28e17f72"


def test_registry_names_are_stable() -> None:
    # These names are stored in the database and in exchanged hash lists.
    assert list(SIGNAL_TYPES) == ["md5", "sha1", "sha256", "pdq"]
    assert get_signal_type("pdq") is PdqSignal
    for name, signal_type in SIGNAL_TYPES.items():
        assert signal_type.name == name
        assert isinstance(signal_type.new_index(), signal_type.index_class)
    assert all(issubclass(SIGNAL_TYPES[n], BytesHasher) for n in ("md5", "sha1", "sha256"))
    assert issubclass(PdqSignal, ImageHasher)


def test_unknown_type_is_a_validation_error() -> None:
    with pytest.raises(UnknownSignalType, match="vpdq") as caught:
        get_signal_type("vpdq")
    assert caught.value.status_code == 422
    assert caught.value.extra["known"] == list(SIGNAL_TYPES)


@pytest.mark.parametrize(
    ("signal_type", "data", "expected"),
    [
        (Md5Signal, b"abc", ABC_MD5),
        (Sha1Signal, b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (Sha256Signal, b"abc", hashlib.sha256(b"abc").hexdigest()),
    ],
)
def test_byte_hashes(signal_type: type[BytesHasher], data: bytes, expected: str) -> None:
    assert signal_type.hash_bytes(data) == expected


def test_validation_normalises_and_refuses() -> None:
    assert Md5Signal.validate(f"  {ABC_MD5.upper()}\n") == ABC_MD5
    assert PdqSignal.validate("F" * 64) == "f" * 64
    for bad in ["", ABC_MD5[:-1], ABC_MD5 + "0", "z" * 32, ABC_MD5[:16] + " " + ABC_MD5[17:]]:
        with pytest.raises(InvalidSignal):
            Md5Signal.validate(bad)
    with pytest.raises(InvalidSignal):
        PdqSignal.validate("0" * 63)
    with pytest.raises(InvalidSignal):
        Sha256Signal.validate(None)  # type: ignore[arg-type]


def test_compare() -> None:
    a = "0" * 64
    b = "0" * 56 + "ffffffff"
    assert PdqSignal.compare(a, b) == (False, 32)  # 32 bits > the default 31
    assert PdqSignal.compare(a, b, threshold=32) == (True, 32)
    assert Md5Signal.compare(ABC_MD5, ABC_MD5.upper()) == (True, 0)
    assert Md5Signal.compare(ABC_MD5, "0" * 32) == (False, 1)


def test_thresholds_are_checked_per_type() -> None:
    assert PdqSignal.check_threshold(31) == 31
    assert PdqSignal.check_threshold(128) == 128
    for bad in (-1, 129, 1.5, True):
        with pytest.raises(ValidationFailed):
            PdqSignal.check_threshold(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        Md5Signal.check_threshold(1)


def test_exact_index() -> None:
    index = Md5Index()
    other = "f" * 32
    index.add_many([(1, ABC_MD5), (2, ABC_MD5.upper()), (3, other)])
    assert index.query(ABC_MD5, 0) == [(1, 0), (2, 0)]
    assert index.query_many([other, "0" * 32], 0) == [[(3, 0)], []]
    index.add(1, other)  # an entry has one value per type: replaced
    assert index.query(ABC_MD5, 0) == [(2, 0)]
    assert index.query(other, 0) == [(1, 0), (3, 0)]
    assert index.remove(2)
    assert not index.remove(2)
    assert index.query(ABC_MD5, 0) == []
    assert len(index) == 2
    assert 3 in index
    assert 2 not in index
    assert index.get(1) == other
    with pytest.raises(InvalidSignal):
        index.add(4, "0" * 40)


def test_exact_index_save_load(tmp_path: Path) -> None:
    index = Sha256Index()
    values = {n: hashlib.sha256(str(n).encode()).hexdigest() for n in range(1_000)}
    index.add_many(values.items())
    index.save(tmp_path / "sha256.npz")
    loaded = Sha256Index.load(tmp_path / "sha256.npz")
    assert len(loaded) == 1_000
    assert loaded.query(values[77], 0) == [(77, 0)]
    with pytest.raises(InvalidIndexFile, match="not 'md5'"):
        Md5Index.load(tmp_path / "sha256.npz")
    buffer = io.BytesIO()
    Md5Index().save(buffer)
    buffer.seek(0)
    assert len(Md5Index.load(buffer)) == 0
