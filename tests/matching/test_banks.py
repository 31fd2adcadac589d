"""The bank service: banks and entries, audit, and matching with thresholds and allow lists."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.audit.models import AuditRecord
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.matching import banks, hash_bytes
from takedown.matching.errors import InvalidSignal, UnknownSignalType
from takedown.matching.lookup import match_hashes
from takedown.matching.models import Bank, BankRole
from takedown.matching.state import BankIndex
from tests.factories import ACTOR, NOW

from .support import BRIDGE, flip_bits, hamming, random_hashes

MD5 = "b5579578c96b1a529a08558844ad6bc9"


def make_bank(session: Session, name: str = "known", **options: object) -> Bank:
    return banks.create_bank(session, ACTOR, name=name, now=NOW, **options)  # type: ignore[arg-type]


def add(session: Session, bank: Bank, signal_type: str, value: str, **meta: object) -> int:
    entry = banks.add_entry(
        session,
        ACTOR,
        bank,
        signal_type=signal_type,
        value=value,
        now=NOW,
        **meta,  # type: ignore[arg-type]
    )
    return entry.id


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_bank_lifecycle_is_audited(db: Session) -> None:
    bank = make_bank(db, "NCMEC_PDQ", role=BankRole.BLOCK_LIST, description="from NCMEC")
    entry_id = add(db, bank, "md5", MD5.upper(), classification="A1", source="NCMEC")
    [summary] = banks.list_banks(db)
    assert (summary.bank.name, summary.entries, summary.enabled_entries) == ("NCMEC_PDQ", 1, 1)
    banks.update_bank(db, ACTOR, bank, name="ncmec", pdq_threshold=20, now=NOW)
    entry = banks.get_entry(db, bank, entry_id)
    assert entry.value == MD5
    assert entry.added_by == ACTOR.label
    banks.update_entry(db, ACTOR, entry, enabled=False, note="checked", now=NOW)
    assert banks.list_banks(db)[0].enabled_entries == 0
    banks.remove_entry(db, ACTOR, entry, now=NOW)
    assert banks.delete_bank(db, ACTOR, banks.get_bank(db, "ncmec"), now=NOW) == 0
    assert banks.list_banks(db) == []
    assert actions(db) == [
        "bank.create",
        "bank.entry.add",
        "bank.update",
        "bank.entry.update",
        "bank.entry.remove",
        "bank.delete",
    ]
    key = b"k" * 32
    audit.chain_all(db, key)
    assert audit.verify(db, key).ok


def test_deleting_a_bank_deletes_its_entries(db: Session) -> None:
    bank = make_bank(db)
    for i in range(3):
        add(db, bank, "md5", f"{i:032x}")
    assert banks.delete_bank(db, ACTOR, bank, now=NOW) == 3
    other = make_bank(db, "other")
    assert banks.list_entries(db, other) == []


@pytest.mark.parametrize("name", ["", "a b", "-x", "x" * 65, "naïve", "a/b"])
def test_bank_names_are_checked(db: Session, name: str) -> None:
    with pytest.raises(ValidationFailed):
        make_bank(db, name)


def test_bank_rules(db: Session) -> None:
    bank = make_bank(db)
    with pytest.raises(Conflict):
        make_bank(db, "known")
    with pytest.raises(ValidationFailed):
        make_bank(db, "loose", pdq_threshold=200)
    with pytest.raises(NotFound):
        banks.get_bank(db, "missing")
    other = make_bank(db, "other")
    with pytest.raises(Conflict):
        banks.update_bank(db, ACTOR, other, name="known", now=NOW)
    entry_id = add(db, bank, "md5", MD5)
    with pytest.raises(NotFound):
        banks.get_entry(db, other, entry_id)


def test_entries_are_validated(db: Session) -> None:
    bank = make_bank(db)
    add(db, bank, "md5", MD5)
    with pytest.raises(Conflict) as duplicate:
        add(db, bank, "md5", f" {MD5.upper()} ")
    assert duplicate.value.extra["entry_id"]
    with pytest.raises(InvalidSignal):
        add(db, bank, "pdq", "12345")
    with pytest.raises(UnknownSignalType):
        add(db, bank, "photodna", MD5)
    with pytest.raises(ValidationFailed):
        add(db, bank, "pdq", "ab" * 32, quality=101)
    with pytest.raises(ValidationFailed):
        add(db, bank, "md5", "ab" * 16, note="x" * 10_001)
    # A quality means nothing for an exact hash.
    exact = banks.get_entry(db, bank, add(db, bank, "sha1", "ab" * 20, quality=90))
    assert exact.quality is None


def test_adding_content_adds_every_signal_once(db: Session) -> None:
    bank = make_bank(db)
    result = hash_bytes(BRIDGE.read_bytes())
    added, existing = banks.add_content(db, ACTOR, bank, result, classification="A1", now=NOW)
    assert {e.signal_type for e in added} == {"md5", "sha1", "sha256", "pdq"}
    assert existing == []
    pdq = next(e for e in added if e.signal_type == "pdq")
    assert pdq.quality == result.pdq.quality  # type: ignore[union-attr]
    again, existing = banks.add_content(db, ACTOR, bank, result, signal_types=["pdq"], now=NOW)
    assert again == []
    assert [e.id for e in existing] == [pdq.id]


# -- matching -----------------------------------------------------------------------------


@pytest.fixture
def index() -> BankIndex:
    return BankIndex()


def pdq_hex(hash_bytes_: np.ndarray) -> str:
    return bytes(hash_bytes_).hex()


def test_per_bank_thresholds(db: Session, index: BankIndex) -> None:
    rng = np.random.default_rng(7)
    base = random_hashes(1, seed=7)[0]
    near, far = pdq_hex(flip_bits(base, 8, rng)), pdq_hex(flip_bits(base, 25, rng))
    tight, loose = make_bank(db, "tight", pdq_threshold=10), make_bank(db, "loose")
    tight_near, loose_far = add(db, tight, "pdq", near), add(db, loose, "pdq", far)
    add(db, tight, "pdq", far)  # 25 bits away: beyond tight's own threshold
    db.commit()
    outcome = match_hashes(db, {"pdq": pdq_hex(base)}, index=index)
    assert [(m.bank, m.entry_id, m.distance) for m in outcome.matches] == [
        ("tight", tight_near, 8),
        ("loose", loose_far, 25),
    ]
    only = match_hashes(db, {"pdq": pdq_hex(base)}, index=index, banks=["tight"])
    assert [m.entry_id for m in only.matches] == [tight_near]
    with pytest.raises(NotFound):
        match_hashes(db, {"pdq": pdq_hex(base)}, index=index, banks=["nope"])


def test_thresholds_match_brute_force(db: Session, index: BankIndex) -> None:
    """Many hashes in three banks with three thresholds: exactly the brute-force answer."""
    rng = np.random.default_rng(11)
    query = random_hashes(1, seed=11)[0]
    query_hex = pdq_hex(query)
    limits = {"b0": 0, "b12": 12, "b40": 40}
    stored: dict[int, tuple[str, str]] = {}
    for name, limit in limits.items():
        bank = make_bank(db, name, pdq_threshold=limit)
        for bits in [0, 5, 12, 13, 31, 40, 41, 90, *rng.integers(0, 128, 20).tolist()]:
            value = pdq_hex(flip_bits(query, int(bits), rng))
            stored[add(db, bank, "pdq", value)] = (name, value)
    db.commit()
    found = {m.entry_id for m in match_hashes(db, {"pdq": query_hex}, index=index).matches}
    expected = {
        entry_id
        for entry_id, (name, value) in stored.items()
        if hamming(query_hex, value) <= limits[name]
    }
    assert found == expected


def test_allow_list_cancels_block_list_across_signal_types(db: Session, index: BankIndex) -> None:
    result = hash_bytes(BRIDGE.read_bytes())
    block = make_bank(db, "known")
    allow = make_bank(db, "benign", role=BankRole.ALLOW_LIST)
    block_id = add(db, block, "pdq", result.pdq.value, classification="A1")  # type: ignore[union-attr]
    db.commit()
    outcome = match_hashes(db, result, index=index)
    assert outcome.known
    [match] = outcome.effective
    assert (match.entry_id, match.classification, match.variant) == (block_id, "A1", "original")
    # The file is listed as a false positive by its SHA-256: the PDQ match is cancelled.
    allow_id = add(db, allow, "sha256", result.sha256)
    db.commit()
    outcome = match_hashes(db, result, index=index)
    assert not outcome.known
    assert outcome.allowed
    cancelled = next(m for m in outcome.matches if m.bank == "known")
    assert [(r.bank, r.entry_id) for r in cancelled.cancelled_by] == [("benign", allow_id)]
    assert next(m for m in outcome.matches if m.bank == "benign").cancelled_by == ()


def test_disabled_banks_and_entries_do_not_match(db: Session, index: BankIndex) -> None:
    bank = make_bank(db)
    entry_id = add(db, bank, "md5", MD5)
    db.commit()
    query = {"md5": MD5}
    assert match_hashes(db, query, index=index).known
    banks.update_bank(db, ACTOR, bank, enabled=False, now=NOW)
    db.commit()
    assert match_hashes(db, query, index=index).matches == []
    banks.update_bank(db, ACTOR, bank, enabled=True, now=NOW)
    banks.update_entry(db, ACTOR, banks.get_entry(db, bank, entry_id), enabled=False, now=NOW)
    db.commit()
    assert match_hashes(db, query, index=index).matches == []
    assert index.matcher.counts()["md5"] == 0


def test_low_quality_pdq_is_kept_but_never_matches(db: Session, index: BankIndex) -> None:
    bank = make_bank(db)
    value = "ab" * 32
    add(db, bank, "pdq", value, quality=30)
    db.commit()
    assert match_hashes(db, {"pdq": value}, index=index).matches == []
    assert len(banks.list_entries(db, bank)) == 1
