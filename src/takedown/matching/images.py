"""Decode untrusted image bytes safely into the RGB pixels that perceptual hashes read.

Every byte string that reaches here came from outside (an upload, a fetched URL, a directory
scan), so decoding is bounded before any pixel is allocated:

1. the byte length against ``max_bytes``;
2. the dimensions from the header (Pillow's ``open`` is lazy) against ``max_pixels``, before
   ``load()`` decodes anything. Pillow's own decompression-bomb check is global state
   (``Image.MAX_IMAGE_PIXELS``) and only warns below twice its limit, so we do not rely on it;
   when it fires anyway (as ``DecompressionBombError``, or as ``DecompressionBombWarning``
   raised by a "warnings are errors" filter) it becomes our ``TooManyPixels`` too;
3. only the formats a browser shows are tried (no EPS, which would start Ghostscript, and none
   of the exotic scientific formats).

Callers that only need a perceptual hash may ask for a *reduced* decode (``reduce_to``): PDQ
resamples to 64x64 internally, so a 7000x7000 image hashed at full size mostly costs pdqhash's
float64 pass over 49 million pixels (seconds) for nothing. A JPEG is then decoded at 1/2, 1/4
or 1/8 scale by the decoder itself (``Image.draft``); other formats are decoded and box-reduced
(``Image.reduce``) to at least ``reduce_to`` pixels a side before hashing. A ``PixelBudget``
bounds the pixels one caller (one capture) may decode in total: an image beyond it is not
decoded at all (``OverBudget``).

Then the EXIF orientation is applied and every mode is converted to 8-bit RGB, because
pdqhash reads the first three channels of whatever array it is given as R, G and B: CMYK
comes out inverted, palette images hash their palette indices and 1-bit images get quality 0
(measured on the Pillow-mode copies of facebook/ThreatExchange's test photo, which
``tests/matching/test_pdq_hashing.py`` hashes from ``tests/data/pdq/misc-images/modes``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from takedown.errors import PayloadTooLarge
from takedown.matching.errors import (
    ImageError,
    ImageTooLarge,
    InvalidImage,
    TooManyPixels,
    UnsupportedImageFormat,
)

# 64 MiB is far above any photo a hotline sees (a 48-megapixel JPEG is about 20 MB) and keeps a
# hostile upload from pinning memory. Callers pass their own limit from settings.
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
# 50 megapixels: every phone and most camera photos fit. pdqhash computes luma in float64, so
# hashing needs about 35 bytes per pixel at its peak (about 1.7 GB at this limit).
DEFAULT_MAX_PIXELS: Final = 50_000_000

_WANTED_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
Image.init()
# AVIF support depends on how Pillow was built; asking Pillow for a format it has no plugin
# for raises KeyError, so keep only the ones registered.
FORMATS: Final[tuple[str, ...]] = tuple(f for f in _WANTED_FORMATS if f in Image.OPEN)

# The side a reduced decode keeps at least: PDQ of such a decode was at most 4 bits from the
# full decode's over the repository's sample photos (tests/matching/test_reduced_decode.py).
PDQ_REDUCE_TO: Final = 512

_WIDE_GREY_MODES: Final = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


class OverBudget(ImageError, PayloadTooLarge):
    """Decoding this image would pass the caller's pixel budget; it was not decoded."""

    title = "Pixel budget spent"


@dataclass
class PixelBudget:
    """How many pixels one unit of work (a capture) may decode, and how many it has.

    ``decoded`` counts the pixels actually decoded (after a JPEG's draft scaling), ``skipped``
    the images refused because they would not fit in what was left.
    """

    limit: int
    decoded: int = 0
    skipped: int = 0
    images: int = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.decoded, 0)

    def spend(self, pixels: int) -> None:
        """Take ``pixels`` from the budget, or raise ``OverBudget`` (and count the skip)."""
        if pixels > self.remaining:
            self.skipped += 1
            raise OverBudget(
                f"not hashed: budget (decoding {pixels} pixels would pass the "
                f"{self.limit} pixels one capture may decode; {self.remaining} left)",
                pixels=pixels,
                remaining=self.remaining,
            )
        self.decoded += pixels
        self.images += 1


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An image ready for hashing: EXIF orientation applied, 8-bit RGB pixels."""

    image: Image.Image
    # The container format as Pillow names it ("JPEG", "PNG", ...), and the mode it was stored
    # in before conversion ("P", "CMYK", "I;16", ...).
    format: str
    mode: str
    # The full upright size, which a reduced decode's ``image`` is smaller than.
    size: tuple[int, int] | None = None

    @property
    def width(self) -> int:
        return self.size[0] if self.size else self.image.width

    @property
    def height(self) -> int:
        return self.size[1] if self.size else self.image.height

    def pixels(self) -> np.ndarray:
        """The pixels as a C-contiguous ``(height, width, 3)`` uint8 array."""
        return np.ascontiguousarray(np.asarray(self.image, dtype=np.uint8))


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse empty input and input over the byte limit, before any work is done on it."""
    if not data:
        raise InvalidImage("The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"The file has {len(data)} bytes; the limit is {max_bytes}.",
            size=len(data),
            limit=max_bytes,
        )


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_to: int | None = None,
    budget: PixelBudget | None = None,
) -> DecodedImage:
    """Decode ``data`` into an upright RGB image, or raise an ``ImageError`` subclass.

    Animated and multi-page images are represented by their first frame. With ``reduce_to``
    the pixels may be a reduced copy at least that many pixels a side (``size`` keeps the full
    size); with a ``budget`` the decoded pixels are taken from it first (``OverBudget``).
    """
    check_size(data, max_bytes)
    try:
        return _decode(data, max_pixels, reduce_to, budget)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels(f"The image has too many pixels: {exc}", limit=max_pixels) from exc
    except MemoryError:
        raise
    except Exception as exc:
        # Pillow reports hostile or damaged input with a zoo of exception types (OSError for
        # truncation, SyntaxError, ValueError, struct.error, IndexError, EOFError, ...). Each
        # one means the same to us: these bytes do not decode to an image.
        raise InvalidImage(f"The image cannot be decoded: {exc}") from exc


def _decode(
    data: bytes, max_pixels: int, reduce_to: int | None, budget: PixelBudget | None
) -> DecodedImage:
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        raise UnsupportedImageFormat(
            f"The file is not an image in a supported format ({', '.join(FORMATS)}).",
            accepted=list(FORMATS),
        ) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise InvalidImage(f"The image declares an empty size ({width}x{height}).")
    if width * height > max_pixels:
        raise TooManyPixels(
            f"The image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}.",
            width=width,
            height=height,
            limit=max_pixels,
        )
    fmt = image.format or "unknown"
    mode = image.mode
    if reduce_to is not None and fmt == "JPEG":
        # The decoder skips the detail: 1/2, 1/4 or 1/8 scale, never below reduce_to a side.
        image.draft(image.mode, (reduce_to, reduce_to))
    if budget is not None:
        budget.spend(image.width * image.height)
    image.load()
    loaded = image.size
    ImageOps.exif_transpose(image, in_place=True)
    # A quarter turn swaps the sides (read after load: a PNG's EXIF may follow its pixels).
    upright = (height, width) if image.size != loaded else (width, height)
    rgb = to_rgb(image)
    if reduce_to is not None:
        factor = min(rgb.width // reduce_to, rgb.height // reduce_to)
        if factor >= 2:
            rgb = rgb.reduce(factor)
    return DecodedImage(image=rgb, format=fmt, mode=mode, size=upright)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB the way a viewer would show it.

    Pillow's own ``convert("RGB")`` is right for every mode except 16- and 32-bit greyscale
    ("I;16*", "I"), which it clips at 255: a normal 16-bit photo comes out almost white
    (measured: 138 bits from the 8-bit version, quality 0). Those keep their top 8 of 16 bits
    instead, as libpng does when it strips 16-bit samples, unless no value exceeds 255 (an
    8-bit picture stored in a 16-bit container, as Pillow's own ``convert("I;16")`` writes).
    Alpha is dropped, not composited, because the other PDQ implementations (pytx, HMA, the
    C++ tools) drop it too and hashes must agree across them.
    """
    if image.mode in _WIDE_GREY_MODES:
        values = np.asarray(image).astype(np.int64)
        if values.size and int(values.max()) > 255:
            values = np.clip(values, 0, 0xFFFF) >> 8
        return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        # Same RGB values, but without Pillow's warning about byte-string transparency (which
        # a "warnings are errors" run would turn into a refused image).
        image = image.convert("RGBA")
    return image.convert("RGB")
