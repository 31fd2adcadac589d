"""Known-material matching: signal types, hashing, exact indexes (see docs/DESIGN.md).

The public surface, for the bank, capture and scan layers built on top:

* ``hash_bytes(data, ...) -> HashResult``: md5, sha1, sha256 and PDQ (+ 8 variants) of bytes;
* ``Matcher``: one index per signal type, ``add``/``remove`` in place, ``match(result)``,
  ``lookup(type, value)``, ``save``/``load`` without pickle;
* ``SIGNAL_TYPES`` / ``get_signal_type(name)``: the pluggable signal types by stable name;
* ``PdqIndex`` and ``ExactIndex`` subclasses, for direct use;
* the errors in ``takedown.matching.errors``.
"""

from takedown.matching.errors import (
    ImageError,
    ImageTooLarge,
    InvalidImage,
    InvalidIndexFile,
    InvalidSignal,
    TooManyPixels,
    UnknownSignalType,
    UnsupportedImageFormat,
)
from takedown.matching.hasher import HashResult, ImageInfo, hash_bytes
from takedown.matching.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, decode_image
from takedown.matching.index import ExactIndex, Md5Index, Sha1Index, Sha256Index, SignalIndex
from takedown.matching.matcher import Match, Matcher
from takedown.matching.pdq import DEFAULT_QUALITY_FLOOR, DEFAULT_THRESHOLD, VARIANTS
from takedown.matching.pdq_index import PdqIndex
from takedown.matching.signals import (
    SIGNAL_TYPES,
    BytesHasher,
    ImageHasher,
    Md5Signal,
    PdqSignal,
    Sha1Signal,
    Sha256Signal,
    Signal,
    SignalType,
    get_signal_type,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_QUALITY_FLOOR",
    "DEFAULT_THRESHOLD",
    "SIGNAL_TYPES",
    "VARIANTS",
    "BytesHasher",
    "ExactIndex",
    "HashResult",
    "ImageError",
    "ImageHasher",
    "ImageInfo",
    "ImageTooLarge",
    "InvalidImage",
    "InvalidIndexFile",
    "InvalidSignal",
    "Match",
    "Matcher",
    "Md5Index",
    "Md5Signal",
    "PdqIndex",
    "PdqSignal",
    "Sha1Index",
    "Sha1Signal",
    "Sha256Index",
    "Sha256Signal",
    "Signal",
    "SignalIndex",
    "SignalType",
    "TooManyPixels",
    "UnknownSignalType",
    "UnsupportedImageFormat",
    "decode_image",
    "get_signal_type",
    "hash_bytes",
]
