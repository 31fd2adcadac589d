"""Helpers for the matching tests: paths to the benign sample images, generated patterns.

Every image used here is benign: the stock photos in ``tests/data/pdq`` (a park with a
footbridge, sky, sea, a pen, noise images; see ``tests/data/README.md``) or patterns
generated in memory.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.conftest import TESTDATA

PDQ_DATA = TESTDATA / "pdq"
BRIDGE = PDQ_DATA / "bridge-mods" / "aaa-orig.jpg"


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def pattern(size: tuple[int, int] = (320, 240), seed: int = 0) -> Image.Image:
    """A generated benign RGB picture: smooth colour gradients plus a few flat blocks."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    green = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    blue = ((x + y) * 127 // max(width + height - 2, 1)).astype(np.uint8)
    pixels = np.dstack([red, green, blue])
    for _ in range(6):
        left = int(rng.integers(0, width // 2 + 1))
        top = int(rng.integers(0, height // 2 + 1))
        pixels[top : top + height // 4 + 1, left : left + width // 4 + 1] = rng.integers(0, 256, 3)
    return Image.fromarray(pixels)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def random_hashes(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 32), dtype=np.uint8)


def flip_bits(hash_bytes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of a (32,) uint8 hash with ``bits`` distinct bits flipped."""
    flipped = hash_bytes.copy()
    for bit in rng.choice(256, size=bits, replace=False):
        flipped[bit // 8] ^= np.uint8(1 << (bit % 8))
    return flipped
