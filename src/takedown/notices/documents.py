"""What a notice says, as plain immutable values: the input of every renderer and channel.

The service builds a :class:`NoticeContent` from the case, the trace and the organization; the
X-ARF builder, the e-mail renderer and the webhook body all read it and nothing else. It holds
locations, hashes and classifications only. There is no field for image data on purpose: a
notice about child sexual abuse material never carries the material, a thumbnail or a
screenshot (X-ARF v4 says the same for ``csam``: hash values and reference IDs instead).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

# Why a notice is sent, as stored in ``NoticeKind``.
KINDS: Final = ("notice", "renotice", "escalation", "forward", "police_referral", "domain_alert")

# The Tech Coalition / NCMEC industry scheme (A = prepubescent, B = pubescent; 1 = sex act,
# 2 = lascivious exhibition) and INTERPOL's "baseline", most severe first. These are the values
# X-ARF v4 allows in a csam report's ``classification``.
CLASSIFICATIONS: Final = ("A1", "A2", "B1", "B2", "baseline")

# X-ARF v4 content-csam ``detection_method``. We use hash_match (every item matched a hash
# list) and manual_review (an analyst assessed at least one item); the others are accepted so
# that a caller with another method can say so.
DETECTION_METHODS: Final = (
    "hash_match",
    "manual_review",
    "ai_detection",
    "user_report",
    "automated_scan",
)

_HEX_LENGTHS: Final = {"sha256": 64, "md5": 32, "sha1": 40, "pdq": 64}
_HEX = re.compile(r"[0-9a-f]+")


def industry_classification(value: str | None) -> str | None:
    """The scheme code for a free-text classification (``"a1"`` -> ``"A1"``), else ``None``.

    Bank entries carry free text; only values that name the industry scheme or baseline are
    used where a code is required (X-ARF); the text itself is still shown to people.
    """
    if not value:
        return None
    text = value.strip()
    if text.casefold() == "baseline":
        return "baseline"
    upper = text.upper()
    return upper if upper in CLASSIFICATIONS else None


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """One media file at the reported location, identified by its hashes only.

    ``classification`` is the bank's or analyst's label (free text; see
    :func:`industry_classification`); ``media_type`` is ``image``, ``video`` ... or a full
    content type. Hashes are stored lowercase and must be hex of the right length.
    """

    sha256: str
    md5: str | None = None
    sha1: str | None = None
    pdq: str | None = None
    classification: str | None = None
    media_type: str | None = None

    def __post_init__(self) -> None:
        for name, length in _HEX_LENGTHS.items():
            value = getattr(self, name)
            if name != "sha256" and not value:
                object.__setattr__(self, name, None)
                continue
            value = str(value).strip().lower()
            if len(value) != length or not _HEX.fullmatch(value):
                raise ValueError(f"{name} must be {length} hex digits, got {value[:80]!r}")
            object.__setattr__(self, name, value)
        if self.classification is not None and not self.classification.strip():
            object.__setattr__(self, "classification", None)
        if self.media_type is not None and not self.media_type.strip():
            object.__setattr__(self, "media_type", None)

    @property
    def industry_class(self) -> str | None:
        """The scheme code of this item's classification, if it has one."""
        return industry_classification(self.classification)


@dataclass(frozen=True, slots=True)
class NoticeContent:
    """Everything one notice says to one recipient about one case.

    ``country`` is the jurisdiction of the recipient (it picks the legal basis quoted) and
    ``language`` the language to write in. ``deadline`` and the timestamps must be timezone-
    aware; they are kept in UTC. ``first_noticed_at`` and ``previous_notice_references`` say,
    in re-notices and escalations, since when and under which references the content has been
    notified. ``sent_at`` is when the notice was decided, the time its documents speak for.
    ``domain`` is the registered domain as a registrar holds it (ICANN section of the Public
    Suffix List); a domain alert names it to the registry.
    """

    reference: str
    kind: str
    case_reference: str
    urls: Sequence[str]
    host: str | None
    ip_addresses: Sequence[str]
    items: Sequence[NoticeItem]
    detection_method: str
    country: str | None
    language: str
    recipient_name: str
    asks_removal: bool
    asks_preservation: bool
    deadline: datetime
    sent_at: datetime
    answer_url: str | None = None
    reply_to: str | None = None
    first_noticed_at: datetime | None = None
    previous_notice_references: Sequence[str] = field(default_factory=tuple)
    escalation_reason: str | None = None
    domain: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown notice kind {self.kind!r}; expected one of {KINDS}")
        if self.detection_method not in DETECTION_METHODS:
            raise ValueError(f"unknown detection method {self.detection_method!r}")
        if not self.urls:
            raise ValueError("a notice names at least one URL")
        # Tuples: a frozen notice whose lists could still be changed would not be frozen.
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "ip_addresses", tuple(self.ip_addresses))
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(
            self, "previous_notice_references", tuple(self.previous_notice_references)
        )
        for name in ("deadline", "sent_at", "first_noticed_at"):
            value = getattr(self, name)
            if value is None:
                continue
            if value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.country is not None:
            object.__setattr__(self, "country", self.country.strip().upper() or None)

    @property
    def most_severe_class(self) -> str:
        """The most severe industry classification of the items; ``baseline`` if none has one."""
        return most_severe(self.items)

    @property
    def primary_item(self) -> NoticeItem | None:
        """The first item with the most severe classification: the one X-ARF names by hash."""
        return primary_item(self.items)


def severity_rank(item: NoticeItem) -> int:
    """0 for A1 ... 4 for baseline; items without a scheme code rank after baseline."""
    code = item.industry_class
    return CLASSIFICATIONS.index(code) if code is not None else len(CLASSIFICATIONS)


def most_severe(items: Sequence[NoticeItem]) -> str:
    """A1 > A2 > B1 > B2 > baseline; ``baseline`` when no item carries a scheme code."""
    codes = [code for code in (item.industry_class for item in items) if code is not None]
    return min(codes, key=CLASSIFICATIONS.index) if codes else "baseline"


def primary_item(items: Sequence[NoticeItem]) -> NoticeItem | None:
    """The first of the most severe items, so its hashes match the classification given."""
    return min(items, key=severity_rank) if items else None
