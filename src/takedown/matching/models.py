"""Models of the matching domain: banks, their entries, and the change log the index follows.

The matching core (``Matcher``, ``PdqIndex``) is database-free and keys everything by an int64
entry id; these tables give those ids their meaning. ``BankEntry.id`` is therefore an integer,
not a UUID like the other tables.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from takedown.db.base import Base, Timestamped, UUIDPrimaryKey, enum_column

# SQLite only auto-numbers an INTEGER PRIMARY KEY (a BIGINT one stays NULL), and
# ``sqlite_autoincrement`` stops it reusing the numbers of deleted rows: a reused entry id
# would let an index that missed the deletion report the wrong entry.
_ID = BigInteger().with_variant(Integer(), "sqlite")
_NO_REUSE = {"sqlite_autoincrement": True}


class BankRole(StrEnum):
    """What a match on a bank means. The value is stored; never rename one."""

    # Known material: a match is a finding.
    BLOCK_LIST = "block_list"
    # Known false positives (a benign photo that a block-list hash happens to be near): a
    # match cancels every block-list match of the same content.
    ALLOW_LIST = "allow_list"

    @property
    def label(self) -> str:
        return "Block list" if self is BankRole.BLOCK_LIST else "Allow list"


class Bank(UUIDPrimaryKey, Timestamped, Base):
    """A named set of hashes with one meaning (its role) and one PDQ threshold.

    A *bank* holds entries of any signal type (md5, sha1, sha256, pdq). Its ``role`` says
    whether a match is known material (block list) or a known false positive that cancels
    block-list matches (allow list). ``pdq_threshold`` is the largest Hamming distance at
    which a PDQ entry of this bank matches (default 31, as HMA and ``pdq/README.md``); exact
    types match only identical values. A disabled bank keeps its entries but matches nothing.
    """

    __tablename__ = "banks"

    # Letters, digits, "_", "-" and "."; it appears in URLs (``/api/v1/banks/{name}``) and in
    # HMA's ``/c/bank/<name>``.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[BankRole] = mapped_column(
        enum_column(BankRole, "bank_role"), default=BankRole.BLOCK_LIST
    )
    pdq_threshold: Mapped[int] = mapped_column(SmallInteger, default=31)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class BankEntry(Base):
    """One known hash in a bank, with where it came from.

    An *entry* is one signal (``signal_type`` + ``value``, the value normalised to lower-case
    hex) with its provenance: ``source`` (a partner, an exchange, a case), ``classification``
    (e.g. an INHOPE or UK category, copied to items assessed automatically through it),
    ``added_by`` and ``added_at`` (kept as given when a list is imported), and a ``note``.
    ``quality`` is the PDQ quality when known; PDQ entries below the quality floor are kept
    but never matched. A disabled entry stays in the bank (and in exports) but matches nothing.
    """

    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value"),
        # A bank's entries in id order: listing pages and streamed exports (keyset by id).
        Index("ix_bank_entries_bank_order", "bank_id", "id"),
        _NO_REUSE,
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bank_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(32))
    # The longest signal today is sha256 (64 hex characters); room for future types.
    value: Mapped[str] = mapped_column(String(512))
    quality: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(200), default="")
    classification: Mapped[str] = mapped_column(String(64), default="")
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class BankChange(Base):
    """One line of the change log that keeps every process's match index current.

    Every change that can alter what an entry matches (added, enabled, disabled, removed, its
    bank enabled, disabled or deleted) appends the entry's id here, in the same transaction.
    An index remembers the last ``seq`` it applied and on its next use reloads only the
    entries named after it (see ``matching/state.py``). Rows are never updated, and keep the
    ids of deleted entries on purpose (no foreign key).
    """

    __tablename__ = "bank_changes"
    __table_args__ = (_NO_REUSE,)

    seq: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime]
