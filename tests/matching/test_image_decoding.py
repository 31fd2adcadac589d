"""Hostile and broken input: every failure is one of our errors, raised before big allocations."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from takedown.errors import BadRequest, PayloadTooLarge, TakedownError, UnsupportedMediaType
from takedown.matching import (
    ImageError,
    ImageTooLarge,
    InvalidImage,
    TooManyPixels,
    UnsupportedImageFormat,
    decode_image,
    hash_bytes,
)

from .support import encode, pattern


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` RGB pixels (a bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def gif_declaring(width: int, height: int) -> bytes:
    """A tiny GIF whose logical screen and one frame declare ``width`` x ``height``."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return screen + frame + b"\x02\x02\x44\x01\x00;"


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG with its SOF0 dimensions rewritten."""
    data = bytearray(encode(pattern((64, 48)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(InvalidImage, match="empty") as caught:
        hash_bytes(b"")
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is text and not an image\n",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        b"<!doctype html><html><body>not an image</body></html>",
        # Pillow could open EPS, but only by starting Ghostscript; it is not offered.
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        b"\x00" * 100,
    ],
    ids=["text", "pdf", "html", "eps", "zeros"],
)
def test_non_images_are_unsupported_media(data: bytes) -> None:
    with pytest.raises(UnsupportedImageFormat) as caught:
        hash_bytes(data)
    assert isinstance(caught.value, UnsupportedMediaType)
    assert caught.value.status_code == 415


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "TIFF"])
def test_truncated_images_are_invalid(fmt: str) -> None:
    data = encode(pattern((200, 150)), fmt)
    with pytest.raises(InvalidImage) as caught:
        hash_bytes(data[: len(data) // 2])
    assert caught.value.status_code == 400


def test_corrupt_png_data_is_invalid() -> None:
    data = bytearray(encode(pattern((200, 150)), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 60] = b"\xa5" * 50
    with pytest.raises(InvalidImage):
        hash_bytes(bytes(data))


def test_byte_limit_is_checked_first(bridge_bytes: bytes) -> None:
    with pytest.raises(ImageTooLarge) as caught:
        hash_bytes(bridge_bytes, max_bytes=len(bridge_bytes) - 1)
    assert isinstance(caught.value, PayloadTooLarge)
    assert caught.value.status_code == 413
    assert caught.value.extra["limit"] == len(bridge_bytes) - 1
    # The limit applies to bytes that are not images too: nothing is hashed past it.
    with pytest.raises(ImageTooLarge):
        hash_bytes(b"x" * 101, max_bytes=100, require_image=False)


@pytest.mark.parametrize(
    ("data", "pixels"),
    [
        # Above Pillow's hard limit (2 x 89M pixels): its DecompressionBombError becomes ours.
        (png_declaring(100_000, 100_000), 10**10),
        # Between Pillow's warning and error limits: the warning (an error under pytest) too.
        (png_declaring(10_000, 10_000), 10**8),
        # Below Pillow's limits, above ours (50M): only our header check stops it.
        (png_declaring(8_000, 8_000), 64 * 10**6),
        (gif_declaring(65_535, 65_535), 65_535**2),
        (jpeg_declaring(60_000, 60_000), 36 * 10**8),
        (jpeg_declaring(9_000, 6_000), 54 * 10**6),
    ],
    ids=["png-huge", "png-warning-range", "png-over-ours", "gif", "jpeg-huge", "jpeg-over-ours"],
)
def test_decompression_bombs_are_refused_from_the_header(data: bytes, pixels: int) -> None:
    assert len(data) < 2_000  # small bytes, huge pictures
    with pytest.raises(TooManyPixels) as caught:
        hash_bytes(data)
    assert isinstance(caught.value, ImageTooLarge)
    assert caught.value.status_code == 413
    assert pixels > 50_000_000


def test_pixel_limit_is_configurable(bridge_bytes: bytes) -> None:
    with pytest.raises(TooManyPixels, match="1600x1004"):
        hash_bytes(bridge_bytes, max_pixels=1600 * 1004 - 1)
    assert hash_bytes(bridge_bytes, max_pixels=1600 * 1004).image is not None


def test_without_require_image_non_images_get_byte_hashes_only() -> None:
    data = b"a short video, say, or any other file"
    result = hash_bytes(data, require_image=False)
    assert result.md5 == hashlib.md5(data).hexdigest()  # noqa: S324 - a test vector
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.pdq is None
    assert result.image is None
    assert result.image_error is not None
    assert "not an image" in result.image_error
    assert not result.pdq_usable
    bomb = hash_bytes(png_declaring(100_000, 100_000), require_image=False)
    assert bomb.pdq is None
    assert bomb.image_error is not None


def test_every_image_error_is_one_family() -> None:
    for error in (InvalidImage, ImageTooLarge, TooManyPixels, UnsupportedImageFormat):
        assert issubclass(error, ImageError)
        assert issubclass(error, TakedownError)
    assert issubclass(InvalidImage, BadRequest)


@pytest.mark.parametrize("size", [(1, 1), (1, 500), (500, 1), (3, 2), (34, 42)])
def test_tiny_and_thin_images_hash(size: tuple[int, int]) -> None:
    result = hash_bytes(encode(pattern(size), "PNG"))
    assert result.pdq is not None
    assert len(result.pdq.value) == 64
    assert result.image is not None
    assert (result.image.width, result.image.height) == size


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"])
def test_mutated_files_fail_only_with_our_errors(fmt: str) -> None:
    """Random byte damage must end in a hash or an ImageError, never anything else."""
    original = encode(pattern((96, 64), seed=1), fmt)
    rng = np.random.default_rng(7)
    outcomes = {"hashed": 0, "refused": 0}
    for _ in range(60):
        damaged = bytearray(original)
        for position in rng.integers(0, len(damaged), size=int(rng.integers(1, 12))):
            damaged[int(position)] = int(rng.integers(0, 256))
        try:
            hash_bytes(bytes(damaged), max_pixels=10_000_000)
        except ImageError:
            outcomes["refused"] += 1
        else:
            outcomes["hashed"] += 1
    assert sum(outcomes.values()) == 60


def test_animated_images_use_their_first_frame() -> None:
    frames = [pattern((120, 90), seed=seed) for seed in (11, 12, 13)]
    animated = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    first = hash_bytes(encode(frames[0], "GIF")).pdq
    result = hash_bytes(animated)
    assert result.pdq is not None
    assert first is not None
    assert result.pdq.value == first.value


def test_decode_reports_format_mode_and_size() -> None:
    palette = pattern((80, 60)).convert("P")
    decoded = decode_image(encode(palette, "PNG"))
    assert (decoded.format, decoded.mode, decoded.width, decoded.height) == ("PNG", "P", 80, 60)
    assert decoded.image.mode == "RGB"
    assert decoded.pixels().shape == (60, 80, 3)
    assert isinstance(decoded.image, Image.Image)
