"""Hash content: bytes in, every signal out, in memory (nothing is written anywhere).

This is what capture, bank uploads and directory scans call. The bytes are checked against
the byte limit first, hashed with every ``BytesHasher`` type (md5, sha1, sha256), then decoded
once (pixel limit, EXIF orientation, RGB; see ``images.py``) for every ``ImageHasher`` type
(pdq with its 8 rotations and flips).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from takedown.matching.errors import ImageError
from takedown.matching.images import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    PixelBudget,
    check_size,
    decode_image,
)
from takedown.matching.pdq import DEFAULT_QUALITY_FLOOR
from takedown.matching.signals import (
    SIGNAL_TYPES,
    BytesHasher,
    ImageHasher,
    PdqSignal,
    Signal,
    SignalType,
)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What was decoded: size after EXIF orientation, container format, original mode."""

    width: int
    height: int
    format: str
    mode: str


@dataclass(frozen=True, slots=True)
class HashResult:
    """Every signal of one piece of content."""

    size: int  # bytes
    signals: Mapping[str, Signal]  # by signal type name
    image: ImageInfo | None  # None when the bytes were not decoded as an image
    # PDQ hashes below this quality are kept but never used to match (HMA drops them).
    quality_floor: int = DEFAULT_QUALITY_FLOOR
    # Why the bytes gave no image signals, when ``require_image=False`` let that pass.
    image_error: str | None = None

    @property
    def md5(self) -> str:
        return self.signals["md5"].value

    @property
    def sha1(self) -> str:
        return self.signals["sha1"].value

    @property
    def sha256(self) -> str:
        return self.signals["sha256"].value

    @property
    def pdq(self) -> Signal | None:
        """The PDQ signal: ``.value``, ``.quality`` and ``.variants`` (8 rotations/flips)."""
        return self.signals.get(PdqSignal.name)

    @property
    def pdq_usable(self) -> bool:
        """Whether the PDQ hash is good enough to match (quality >= the floor)."""
        signal = self.pdq
        return signal is not None and (signal.quality or 0) >= self.quality_floor

    def values(self) -> dict[str, str]:
        """Signal type name -> value, the form stored with an item or bank entry."""
        return {name: signal.value for name, signal in self.signals.items()}


def hash_bytes(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    quality_floor: int = DEFAULT_QUALITY_FLOOR,
    require_image: bool = True,
    signal_types: Iterable[type[SignalType]] | None = None,
    reduce_to: int | None = None,
    budget: PixelBudget | None = None,
) -> HashResult:
    """Compute every signal of ``data``.

    Raises ``ImageTooLarge`` over ``max_bytes`` and ``InvalidImage`` for zero bytes, always.
    With ``require_image`` (the default) bytes that are not a decodable image within
    ``max_pixels`` raise too (``UnsupportedImageFormat``, ``InvalidImage``,
    ``TooManyPixels``); without it they get only the byte hashes and ``image_error`` says
    why, which suits capture of arbitrary media (a video still gets its md5).

    ``reduce_to`` and ``budget`` are passed to :func:`decode_image` (a cheaper decode for the
    perceptual hashes, a cap on the pixels decoded); the byte hashes are always of ``data``.
    """
    check_size(data, max_bytes)
    types = list(SIGNAL_TYPES.values() if signal_types is None else signal_types)
    signals: dict[str, Signal] = {}
    for byte_type in types:
        if issubclass(byte_type, BytesHasher):
            signals[byte_type.name] = Signal(byte_type.name, byte_type.hash_bytes(data))
    image_types = [t for t in types if issubclass(t, ImageHasher)]
    if not image_types:
        return HashResult(len(data), signals, None, quality_floor)
    try:
        image = decode_image(
            data, max_bytes=max_bytes, max_pixels=max_pixels, reduce_to=reduce_to, budget=budget
        )
    except ImageError as exc:
        if require_image:
            raise
        return HashResult(len(data), signals, None, quality_floor, image_error=exc.message)
    for image_type in image_types:
        signals[image_type.name] = image_type.hash_image(image)
    info = ImageInfo(image.width, image.height, image.format, image.mode)
    return HashResult(len(data), signals, info, quality_floor)
