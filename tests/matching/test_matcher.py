"""Matching content against known entries. "Known material" here is a benign stock photo."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from takedown.errors import ValidationFailed
from takedown.matching import (
    InvalidSignal,
    Match,
    Matcher,
    PdqSignal,
    UnknownSignalType,
    hash_bytes,
)

from .support import PDQ_DATA, encode

KNOWN = 101  # entry id of the bridge photo in the "bank"
UNRELATED = [
    "pen-and-coaster.png",
    "labelme-subset/q0122.jpg",
    "labelme-subset/q1050.jpg",
    "misc-images/wee.jpg",
]


@pytest.fixture
def matcher(bridge_bytes: bytes) -> Matcher:
    known = hash_bytes(bridge_bytes)
    matcher = Matcher()
    for name, signal in known.signals.items():
        assert matcher.add(KNOWN, name, signal.value, quality=signal.quality)
    return matcher


def _edited(data: bytes, edit: str) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if edit == "resized":
        return encode(image.resize((640, 402), Image.Resampling.LANCZOS), "JPEG", quality=90)
    if edit == "jpeg-quality-20":
        return encode(image, "JPEG", quality=20)
    if edit == "png":
        return encode(image, "PNG")
    if edit == "greyscale":
        return encode(image.convert("L"), "PNG")
    if edit == "rotated-90":
        return encode(image.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=85)
    if edit == "mirrored-small":
        small = image.resize((400, 251)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return encode(small, "WEBP", quality=70)
    raise AssertionError(edit)


@pytest.mark.parametrize(
    ("edit", "variant"),
    [
        ("resized", "original"),
        ("jpeg-quality-20", "original"),
        ("png", "original"),
        ("greyscale", "original"),
        ("rotated-90", None),
        ("mirrored-small", None),
    ],
)
def test_known_photo_is_found_after_edits(
    matcher: Matcher, bridge_bytes: bytes, edit: str, variant: str | None
) -> None:
    result = hash_bytes(_edited(bridge_bytes, edit))
    matches = matcher.match(result)
    assert [m.entry_id for m in matches] == [KNOWN]
    (found,) = matches
    assert found.signal_type == "pdq"
    assert found.distance <= PdqSignal.default_threshold
    if variant is not None:
        assert found.variant == variant
    else:
        assert found.variant != "original"
    # Without the rotation and flip variants the rotated copies would be missed.
    assert result.pdq is not None
    plain = matcher.lookup("pdq", result.pdq.value)
    assert bool(plain) == (variant == "original")


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("bridge-2-rotate-90.jpg", "rotate90"),
        ("bridge-3-rotate-180.jpg", "rotate180"),
        ("bridge-4-rotate-270.jpg", "rotate270"),
        ("bridge-5-flipx.jpg", "flipx"),
        ("bridge-6-flipy.jpg", "flipy"),
        ("bridge-7-flip-plus-1.jpg", "flipplus1"),
        ("bridge-8-flip-minus-1.jpg", "flipminus1"),
    ],
)
def test_rotated_files_report_their_transform(matcher: Matcher, name: str, variant: str) -> None:
    matches = matcher.match(hash_bytes((PDQ_DATA / "dih" / name).read_bytes()))
    assert matches == [Match(KNOWN, "pdq", matches[0].distance, variant)]
    assert matches[0].distance <= 8


def test_identical_file_matches_every_signal_type(matcher: Matcher, bridge_bytes: bytes) -> None:
    matches = matcher.match(hash_bytes(bridge_bytes))
    assert {(m.signal_type, m.distance, m.variant) for m in matches} == {
        ("md5", 0, None),
        ("sha1", 0, None),
        ("sha256", 0, None),
        ("pdq", 0, "original"),
    }
    assert all(m.entry_id == KNOWN for m in matches)


@pytest.mark.parametrize("name", UNRELATED)
def test_unrelated_photos_do_not_match(matcher: Matcher, name: str) -> None:
    assert matcher.match(hash_bytes((PDQ_DATA / name).read_bytes())) == []


def test_low_quality_hashes_never_match(bridge_bytes: bytes) -> None:
    featureless = hash_bytes((PDQ_DATA / "misc-images" / "small.jpg").read_bytes())
    assert featureless.pdq is not None
    assert featureless.pdq.quality == 0
    matcher = Matcher()
    # Not indexed (the caller keeps it in the database) ...
    assert not matcher.add(5, "pdq", featureless.pdq.value, quality=featureless.pdq.quality)
    assert matcher.counts()["pdq"] == 0
    # ... and not used to query, even against an index that holds the very same hash.
    matcher.add(6, "pdq", featureless.pdq.value)  # a partner list without quality
    assert matcher.match(featureless) == []
    assert matcher.lookup("pdq", featureless.pdq.value) != []  # quality unknown: used
    assert matcher.lookup("pdq", featureless.pdq.value, quality=0) == []
    lenient = Matcher(quality_floor=0)
    lenient.add(6, "pdq", featureless.pdq.value)
    assert [m.entry_id for m in lenient.match(featureless)] == [6]


def test_a_low_quality_update_drops_the_old_value(matcher: Matcher) -> None:
    assert not matcher.add(KNOWN, "pdq", "0" * 64, quality=10)
    assert matcher.index("pdq").get(KNOWN) is None


def test_the_quality_floor_only_applies_to_types_with_a_quality(matcher: Matcher) -> None:
    assert matcher.add(KNOWN + 1, "md5", "0" * 32, quality=10)
    assert matcher.lookup("md5", "0" * 32, quality=0) == [Match(KNOWN + 1, "md5", 0, None)]


def test_thresholds(matcher: Matcher, bridge_bytes: bytes) -> None:
    result = hash_bytes(_edited(bridge_bytes, "jpeg-quality-20"))
    (found,) = matcher.match(result)
    assert found.distance > 0
    assert matcher.match(result, thresholds={"pdq": found.distance - 1}) == []
    assert matcher.match(result, thresholds={"pdq": found.distance}) == [found]
    with pytest.raises(ValidationFailed):
        matcher.match(result, thresholds={"pdq": 500})


def test_lookup_by_hash(matcher: Matcher, bridge_bytes: bytes) -> None:
    known = hash_bytes(bridge_bytes)
    assert matcher.lookup("md5", known.md5.upper()) == [Match(KNOWN, "md5", 0, None)]
    assert matcher.lookup("pdq", known.pdq.value if known.pdq else "") == [
        Match(KNOWN, "pdq", 0, "original")
    ]
    with pytest.raises(InvalidSignal):
        matcher.lookup("pdq", "not a hash")
    with pytest.raises(UnknownSignalType):
        matcher.lookup("photodna", "00")


def test_remove(matcher: Matcher, bridge_bytes: bytes) -> None:
    assert matcher.remove(KNOWN, "md5")
    assert {m.signal_type for m in matcher.match(hash_bytes(bridge_bytes))} == {
        "sha1",
        "sha256",
        "pdq",
    }
    assert matcher.remove(KNOWN)
    assert not matcher.remove(KNOWN)
    assert matcher.match(hash_bytes(bridge_bytes)) == []


def test_many_entries_are_reported_nearest_first(bridge_bytes: bytes) -> None:
    matcher = Matcher()
    edits = ["resized", "jpeg-quality-20", "greyscale", "png"]
    for entry_id, edit in enumerate(edits):
        signal = hash_bytes(_edited(bridge_bytes, edit)).pdq
        assert signal is not None
        matcher.add(entry_id, "pdq", signal.value, quality=signal.quality)
    matches = matcher.match(hash_bytes(bridge_bytes))
    assert sorted(m.entry_id for m in matches) == [0, 1, 2, 3]
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)


def test_save_and_load(matcher: Matcher, bridge_bytes: bytes, tmp_path: Path) -> None:
    matcher.save(tmp_path / "indexes")
    assert sorted(p.name for p in (tmp_path / "indexes").iterdir()) == [
        "md5.npz",
        "pdq.npz",
        "sha1.npz",
        "sha256.npz",
    ]
    loaded = Matcher.load(tmp_path / "indexes")
    assert loaded.counts() == matcher.counts() == {"md5": 1, "sha1": 1, "sha256": 1, "pdq": 1}
    result = hash_bytes(bridge_bytes)
    assert loaded.match(result) == matcher.match(result)
    (tmp_path / "indexes" / "md5.npz").unlink()
    assert Matcher.load(tmp_path / "indexes").counts()["md5"] == 0


def test_a_matcher_can_be_limited_to_some_types(bridge_bytes: bytes) -> None:
    matcher = Matcher(signal_types=[PdqSignal])
    result = hash_bytes(bridge_bytes)
    assert result.pdq is not None
    matcher.add(1, "pdq", result.pdq.value)
    assert [m.signal_type for m in matcher.match(result)] == ["pdq"]
    with pytest.raises(ValidationFailed):
        matcher.add(1, "md5", result.md5)
