"""The sandbox's sample images: generated, deterministic, and far apart for PDQ."""

from __future__ import annotations

import io
from itertools import combinations

import pytest
from PIL import Image

from takedown.matching import hash_bytes
from takedown.matching.pdq import distance
from takedown.sandbox.images import CATALOGUE_SIZE, HEIGHT, WIDTH, sample_image

# Well beyond the matching threshold (31): no sample can match another, even re-encoded.
MIN_DISTANCE = 60


@pytest.fixture(scope="module")
def catalogue() -> list[bytes]:
    return [sample_image(seed) for seed in range(CATALOGUE_SIZE)]


def test_samples_are_deterministic_pngs(catalogue: list[bytes]) -> None:
    assert sample_image(3) == catalogue[3]
    with Image.open(io.BytesIO(catalogue[3])) as image:
        assert (image.format, image.size, image.mode) == ("PNG", (WIDTH, HEIGHT), "RGB")
    assert len(set(catalogue)) == CATALOGUE_SIZE


def test_samples_are_far_apart_for_pdq_even_rotated_or_mirrored(catalogue: list[bytes]) -> None:
    signals = [hash_bytes(data).pdq for data in catalogue]
    assert all(s is not None and s.quality is not None and s.quality >= 50 for s in signals)
    for (i, a), (j, b) in combinations(enumerate(signals), 2):
        assert a is not None
        assert b is not None
        assert distance(a.value, b.value) > MIN_DISTANCE, (i, j)
        # The matcher also compares a query's rotations and flips with the bank.
        closest = min(distance(a.value, variant) for variant in b.variants.values())
        assert closest > MIN_DISTANCE, (i, j)


def test_seeds_start_at_zero() -> None:
    with pytest.raises(ValueError, match="start at 0"):
        sample_image(-1)
