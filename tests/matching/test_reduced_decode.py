"""A reduced decode (JPEG draft, box reduce) keeps PDQ close and the byte hashes identical."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from takedown.matching import hash_bytes
from takedown.matching.images import PDQ_REDUCE_TO, OverBudget, PixelBudget, decode_image
from takedown.matching.pdq import distance
from tests.conftest import TESTDATA

PHOTOS = sorted(
    path
    for path in (TESTDATA / "pdq").rglob("*")
    if path.suffix.lower() in {".jpg", ".jpeg", ".png"}
)
# Measured: at most 4 bits over the photos as they are, 6 over 3x enlargements (as JPEG and
# PNG); PDQ matches at 31.
MAX_DISTANCE = 8


def test_there_are_sample_photos_to_compare() -> None:
    assert len(PHOTOS) >= 20
    assert any(max(size_of(p)) >= 2 * PDQ_REDUCE_TO for p in PHOTOS)


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_pdq_of_a_reduced_decode_stays_close_to_the_full_one(path: Path) -> None:
    data = path.read_bytes()
    full = hash_bytes(data)
    reduced = hash_bytes(data, reduce_to=PDQ_REDUCE_TO)
    assert full.pdq is not None
    assert reduced.pdq is not None
    assert distance(full.pdq.value, reduced.pdq.value) <= MAX_DISTANCE
    # The exact hashes are of the raw bytes, whatever the decode.
    assert (reduced.md5, reduced.sha1, reduced.sha256) == (full.md5, full.sha1, full.sha256)
    # And the size reported is the image's own, not the reduced copy's.
    assert reduced.image is not None
    assert full.image is not None
    assert (reduced.image.width, reduced.image.height) == (full.image.width, full.image.height)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("name", ["aaa-orig.jpg", "high-contrast.jpg"])
def test_pdq_stays_close_on_enlarged_photos(name: str, fmt: str) -> None:
    """Most sample photos are too small to be reduced; twice their size, all of them are."""
    (path,) = (p for p in PHOTOS if p.name == name)
    with Image.open(path) as opened:
        photo = opened.convert("RGB")
    large = photo.resize((photo.width * 2, photo.height * 2), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    large.save(out, format=fmt)
    full = hash_bytes(out.getvalue()).pdq
    budget = PixelBudget(10**9)
    reduced = hash_bytes(out.getvalue(), reduce_to=PDQ_REDUCE_TO, budget=budget).pdq
    assert full is not None
    assert reduced is not None
    assert distance(full.value, reduced.value) <= MAX_DISTANCE
    if fmt == "JPEG":
        assert budget.decoded == large.width * large.height // 4  # drafted at 1/2 scale


def encoded(size: tuple[int, int], fmt: str) -> bytes:
    image = Image.new("RGB", size, (30, 160, 90))
    image.paste((200, 20, 20), (0, 0, size[0] // 3, size[1] // 2))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def test_a_large_jpeg_is_decoded_at_a_fraction_of_its_pixels() -> None:
    budget = PixelBudget(10**9)
    decoded = decode_image(encoded((4096, 3072), "JPEG"), reduce_to=PDQ_REDUCE_TO, budget=budget)
    assert budget.decoded == 512 * 384 * 4  # 1/8 scale would go below 512 a side; 1/4 fits
    assert min(decoded.image.size) >= PDQ_REDUCE_TO
    assert (decoded.width, decoded.height) == (4096, 3072)


def test_a_large_png_is_reduced_before_hashing() -> None:
    decoded = decode_image(encoded((3000, 2000), "PNG"), reduce_to=PDQ_REDUCE_TO)
    assert decoded.image.size == (1000, 667)  # reduced by 3, rounding up
    assert (decoded.width, decoded.height) == (3000, 2000)


def test_an_image_beyond_the_budget_is_not_decoded() -> None:
    budget = PixelBudget(1000 * 1000)
    decode_image(encoded((800, 800), "PNG"), budget=budget)
    with pytest.raises(OverBudget, match="not hashed: budget"):
        decode_image(encoded((800, 800), "PNG"), budget=budget)
    assert (budget.decoded, budget.images, budget.skipped) == (640_000, 1, 1)
    # Without requiring an image, the bytes still get their exact hashes.
    result = hash_bytes(encoded((800, 800), "PNG"), require_image=False, budget=budget)
    assert result.pdq is None
    assert result.md5
    assert result.image_error is not None
    assert "budget" in result.image_error
