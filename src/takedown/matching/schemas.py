"""Request and response bodies of the hashing, matching and bank API (``/api/v1``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from takedown.matching.bankio import ImportReport
from takedown.matching.banks import BankSummary
from takedown.matching.hasher import HashResult
from takedown.matching.lookup import BankMatch, MatchOutcome
from takedown.matching.models import Bank, BankEntry, BankRole
from takedown.textfields import Line, Text


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- hashing ------------------------------------------------------------------------------


class SignalOut(BaseModel):
    value: str
    quality: int | None = Field(None, description="PDQ quality 0-100; null for exact types.")
    variants: dict[str, str] | None = Field(
        None, description="PDQ of the 8 rotations and flips, by name; null for exact types."
    )


class ImageOut(BaseModel):
    width: int
    height: int
    format: str
    mode: str = Field(description="The stored Pillow mode before conversion to RGB.")


class HashOut(BaseModel):
    size: int = Field(description="Bytes.")
    image: ImageOut | None
    signals: dict[str, SignalOut]
    pdq_usable: bool = Field(
        description="Whether the PDQ quality reaches the quality floor (else it never matches)."
    )

    @classmethod
    def of(cls, result: HashResult) -> HashOut:
        image = result.image
        return cls(
            size=result.size,
            image=ImageOut(
                width=image.width, height=image.height, format=image.format, mode=image.mode
            )
            if image is not None
            else None,
            signals={
                name: SignalOut(
                    value=signal.value,
                    quality=signal.quality,
                    variants=dict(signal.variants) or None,
                )
                for name, signal in result.signals.items()
            },
            pdq_usable=result.pdq_usable,
        )


# -- matching -----------------------------------------------------------------------------


class MatchSignalsIn(_In):
    signals: dict[Line, Line] = Field(
        min_length=1,
        description='Signal type -> hash, e.g. {"pdq": "<64 hex>", "md5": "<32 hex>"}.',
    )
    banks: list[Line] | None = Field(None, description="Only these banks (default: all).")


class EntryRefOut(BaseModel):
    bank: str
    entry_id: int


class MatchOut(BaseModel):
    bank: str
    bank_role: BankRole
    entry_id: int
    signal_type: str
    distance: int
    variant: str | None = Field(
        description="For PDQ: the rotation or flip that turns the known image into this one."
    )
    value: str | None = Field(None, description="The bank's hash. Staff only.")
    source: str
    classification: str
    added_at: datetime
    added_by: str | None = Field(None, description="Staff only.")
    note: str | None = Field(None, description="Staff only.")
    cancelled_by: list[EntryRefOut] = Field(
        description="Allow-list entries that cancel this block-list match."
    )

    @classmethod
    def of(cls, match: BankMatch, *, staff: bool) -> MatchOut:
        return cls(
            bank=match.bank,
            bank_role=match.bank_role,
            entry_id=match.entry_id,
            signal_type=match.signal_type,
            distance=match.distance,
            variant=match.variant,
            value=match.value if staff else None,
            source=match.source,
            classification=match.classification,
            added_at=match.added_at,
            added_by=match.added_by if staff else None,
            note=match.note if staff else None,
            cancelled_by=[
                EntryRefOut(bank=r.bank, entry_id=r.entry_id) for r in match.cancelled_by
            ],
        )


class MatchResultOut(BaseModel):
    known: bool = Field(description="A block-list match stands (no allow-list match).")
    allowed: bool = Field(description="The content matches an allow-list bank.")
    matches: list[MatchOut]
    hash: HashOut | None = Field(None, description="The uploaded file's signals.")

    @classmethod
    def of(cls, outcome: MatchOutcome, *, staff: bool, hashed: HashResult | None) -> MatchResultOut:
        return cls(
            known=outcome.known,
            allowed=outcome.allowed,
            matches=[MatchOut.of(m, staff=staff) for m in outcome.matches],
            hash=HashOut.of(hashed) if hashed is not None else None,
        )


# -- banks --------------------------------------------------------------------------------


class BankIn(_In):
    name: Line = Field(min_length=1, max_length=64)
    role: BankRole = BankRole.BLOCK_LIST
    pdq_threshold: int | None = Field(None, ge=0, le=128, description="Default 31.")
    description: Text = Field("", max_length=2000)
    enabled: bool = True


class BankPatch(_In):
    name: Line | None = Field(None, min_length=1, max_length=64, description="Renames the bank.")
    role: BankRole | None = None
    pdq_threshold: int | None = Field(None, ge=0, le=128)
    description: Text | None = Field(None, max_length=2000)
    enabled: bool | None = None


class BankOut(BaseModel):
    name: str
    role: BankRole
    pdq_threshold: int
    description: str
    enabled: bool
    entries: int | None = None
    enabled_entries: int | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, bank: Bank, summary: BankSummary | None = None) -> BankOut:
        return cls(
            name=bank.name,
            role=bank.role,
            pdq_threshold=bank.pdq_threshold,
            description=bank.description,
            enabled=bank.enabled,
            entries=summary.entries if summary else None,
            enabled_entries=summary.enabled_entries if summary else None,
            created_at=bank.created_at,
            updated_at=bank.updated_at,
        )


class EntryIn(_In):
    signal_type: Line = Field(description="md5, sha1, sha256 or pdq.")
    value: Line = Field(max_length=512)
    quality: int | None = Field(None, ge=0, le=100, description="PDQ quality, when known.")
    source: Line = Field("", max_length=200)
    classification: Line = Field("", max_length=64)
    note: Text = Field("", max_length=10_000)


class EntryPatch(_In):
    enabled: bool | None = Field(None, description="false disables the entry (kept, unmatched).")
    source: Line | None = Field(None, max_length=200)
    classification: Line | None = Field(None, max_length=64)
    note: Text | None = Field(None, max_length=10_000)


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    signal_type: str
    value: str
    quality: int | None
    source: str
    classification: str
    added_by: str
    added_at: datetime
    note: str
    enabled: bool

    @classmethod
    def of(cls, entry: BankEntry) -> EntryOut:
        return cls.model_validate(entry)


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


class LineErrorOut(BaseModel):
    line: int
    message: str


class ImportOut(BaseModel):
    added: int
    duplicates: int
    error_count: int
    errors: list[LineErrorOut] = Field(description="The first 1,000 bad lines, by line number.")

    @classmethod
    def of(cls, report: ImportReport) -> ImportOut:
        return cls(
            added=report.added,
            duplicates=report.duplicates,
            error_count=report.error_count,
            errors=[LineErrorOut(line=e.line, message=e.message) for e in report.errors],
        )
