"""Signal types: the kinds of hashes we compute, store, exchange and match.

Each is a class behind one interface with a stable ``name`` (stored in the database and in
hash lists, so it never changes), after python-threatexchange's ``SignalType``: it validates
and normalises a signal string, compares two signals, and builds the index that matches
them. Content-based types also hash content: ``BytesHasher`` types hash raw bytes,
``ImageHasher`` types hash a decoded image. A video type (vPDQ) would add a ``VideoHasher``
mixin and its own index, register itself in ``SIGNAL_TYPES``, and nothing else changes.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, NamedTuple

from takedown.errors import ValidationFailed
from takedown.matching import pdq
from takedown.matching.errors import InvalidSignal, UnknownSignalType
from takedown.matching.images import DecodedImage
from takedown.matching.index import (
    IndexTarget,
    Md5Index,
    Sha1Index,
    Sha256Index,
    SignalIndex,
)
from takedown.matching.pdq_index import PdqIndex


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal computed from one piece of content."""

    type: str  # the SignalType name
    value: str
    # Confidence 0-100 for types that have one (PDQ); None otherwise.
    quality: int | None = None
    # Transform name -> value for types that hash transformed versions too (PDQ's 8
    # rotations and flips, "original" included); empty otherwise.
    variants: Mapping[str, str] = field(default_factory=dict)


class Comparison(NamedTuple):
    matches: bool
    distance: int


class SignalType(ABC):
    """How one kind of signal is validated, compared and indexed."""

    name: ClassVar[str]
    label: ClassVar[str]
    index_class: ClassVar[type[SignalIndex]]
    # Distance at or below which two signals match by default, and the largest threshold a
    # bank may configure.
    default_threshold: ClassVar[int] = 0
    max_threshold: ClassVar[int] = 0
    # Whether signals of this type carry a quality, to which the quality floor applies.
    has_quality: ClassVar[bool] = False
    # Names of the transformed versions this type hashes, the untransformed one first
    # (PDQ: "original" and its 7 rotations and flips); empty for types without.
    variant_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def inverse_variant(cls, name: str) -> str:
        """The variant that undoes ``name``: a query's variant that matched a known signal
        tells how the known content must be transformed to look like the query."""
        return name

    @classmethod
    @abstractmethod
    def validate(cls, value: str) -> str:
        """The normalised form of ``value``, or ``InvalidSignal``."""

    @classmethod
    @abstractmethod
    def distance(cls, a: str, b: str) -> int:
        """Distance between two valid signals (0 = identical)."""

    @classmethod
    def compare(cls, a: str, b: str, threshold: int | None = None) -> Comparison:
        limit = cls.default_threshold if threshold is None else cls.check_threshold(threshold)
        distance = cls.distance(cls.validate(a), cls.validate(b))
        return Comparison(distance <= limit, distance)

    @classmethod
    def check_threshold(cls, threshold: int) -> int:
        """``threshold`` if it is allowed for this type, else ``ValidationFailed``."""
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise ValidationFailed(f"A {cls.name} threshold is an integer.")
        if not 0 <= threshold <= cls.max_threshold:
            raise ValidationFailed(
                f"A {cls.name} threshold is between 0 and {cls.max_threshold}; got {threshold}."
            )
        return threshold

    @classmethod
    def new_index(cls) -> SignalIndex:
        return cls.index_class()

    @classmethod
    def load_index(cls, source: IndexTarget) -> SignalIndex:
        """Read an index saved by ``SignalIndex.save`` (no pickle; see ``index.py``)."""
        return cls.index_class.load(source)


class BytesHasher(SignalType):
    """A signal type computed from the raw bytes of any file."""

    @classmethod
    @abstractmethod
    def hash_bytes(cls, data: bytes) -> str: ...


class ImageHasher(SignalType):
    """A signal type computed from a decoded, upright RGB image."""

    @classmethod
    @abstractmethod
    def hash_image(cls, image: DecodedImage) -> Signal: ...


class _DigestSignal(BytesHasher):
    """A cryptographic digest: matches only the identical file."""

    algorithm: ClassVar[str]
    digest_size: ClassVar[int]

    @classmethod
    def validate(cls, value: str) -> str:
        normalised = value.strip().lower() if isinstance(value, str) else ""
        if len(normalised) != 2 * cls.digest_size or not _is_hex(normalised, cls.digest_size):
            raise InvalidSignal(
                f"An {cls.name} hash is {2 * cls.digest_size} hex characters; got {value!r}."
            )
        return normalised

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        # Exact types have no notion of "close": equal or not.
        return 0 if a == b else 1

    @classmethod
    def hash_bytes(cls, data: bytes) -> str:
        return hashlib.new(cls.algorithm, data, usedforsecurity=False).hexdigest()


class Md5Signal(_DigestSignal):
    name = "md5"
    label = "MD5"
    algorithm = "md5"
    digest_size = 16
    index_class = Md5Index


class Sha1Signal(_DigestSignal):
    name = "sha1"
    label = "SHA-1"
    algorithm = "sha1"
    digest_size = 20
    index_class = Sha1Index


class Sha256Signal(_DigestSignal):
    name = "sha256"
    label = "SHA-256"
    algorithm = "sha256"
    digest_size = 32
    index_class = Sha256Index


class PdqSignal(ImageHasher):
    """Meta's PDQ perceptual photo hash (see ``pdq.py``)."""

    name = "pdq"
    label = "PDQ (photo)"
    index_class = PdqIndex
    default_threshold = pdq.DEFAULT_THRESHOLD
    # Unrelated photos are about 128 bits apart; a larger threshold would match at random.
    max_threshold = 128
    has_quality = True
    variant_names = pdq.VARIANTS

    @classmethod
    def inverse_variant(cls, name: str) -> str:
        return pdq.INVERSE[name]

    @classmethod
    def validate(cls, value: str) -> str:
        normalised = value.strip().lower() if isinstance(value, str) else ""
        if not pdq.is_valid_hex(normalised):
            raise InvalidSignal(
                f"A pdq hash is {pdq.PDQ_HEX_LENGTH} hex characters; got {value!r}."
            )
        return normalised

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return pdq.distance(a, b)

    @classmethod
    def hash_image(cls, image: DecodedImage) -> Signal:
        result = pdq.hash_pixels(image.pixels())
        return Signal(cls.name, result.value, result.quality, result.variants)


SIGNAL_TYPES: Final[dict[str, type[SignalType]]] = {
    signal_type.name: signal_type
    for signal_type in (Md5Signal, Sha1Signal, Sha256Signal, PdqSignal)
}


def get_signal_type(name: str) -> type[SignalType]:
    """The registered signal type called ``name``, or ``UnknownSignalType``."""
    try:
        return SIGNAL_TYPES[name]
    except (KeyError, TypeError):
        known = ", ".join(SIGNAL_TYPES)
        raise UnknownSignalType(
            f"Unknown signal type {name!r}; known: {known}.", known=list(SIGNAL_TYPES)
        ) from None


def _is_hex(value: str, size: int) -> bool:
    try:
        # fromhex skips whitespace; all ``size`` bytes must come out.
        return len(bytes.fromhex(value)) == size
    except ValueError:
        return False
