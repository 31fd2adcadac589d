"""Errors raised while hashing and matching, as subclasses of the package's one tree.

    TakedownError
    ├── BadRequest                      400
    │   ├── InvalidImage                400  empty, truncated or corrupt image bytes
    │   └── ValidationFailed            422
    │       ├── InvalidSignal           422  a hash string that is not valid for its type
    │       └── UnknownSignalType       422  a signal type name nobody registered
    ├── PayloadTooLarge                 413
    │   └── ImageTooLarge               413  more bytes than the byte limit
    │       └── TooManyPixels           413  more pixels than the pixel limit (decompression bomb)
    ├── UnsupportedMediaType            415
    │   └── UnsupportedImageFormat      415  bytes that are no image format we decode
    └── InvalidIndexFile                500  a saved index that is not ours (or a pickle)

Every image error also derives from ``ImageError`` so a caller that only wants to know "could
this be hashed as an image?" catches one class.
"""

from __future__ import annotations

from takedown.errors import (
    BadRequest,
    PayloadTooLarge,
    TakedownError,
    UnsupportedMediaType,
    ValidationFailed,
)


class ImageError(TakedownError):
    """Base of every reason why bytes could not be decoded into an image to hash."""


class InvalidImage(ImageError, BadRequest):
    title = "Invalid image"


class ImageTooLarge(ImageError, PayloadTooLarge):
    title = "Image too large"


class TooManyPixels(ImageTooLarge):
    title = "Image has too many pixels"


class UnsupportedImageFormat(ImageError, UnsupportedMediaType):
    title = "Unsupported image format"


class InvalidSignal(ValidationFailed):
    title = "Invalid signal"


class UnknownSignalType(ValidationFailed):
    title = "Unknown signal type"


class InvalidIndexFile(TakedownError):
    title = "Invalid index file"
