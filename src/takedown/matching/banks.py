"""Banks and their entries: create, rename, toggle, delete; every change audited.

Services flush and never commit; the caller's transaction owns the change. Every change
that alters what an entry matches is written to the change log (``state.record_changes``)
first, so every process's match index picks it up on its next use.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.auth.principal import Principal
from takedown.errors import Conflict, NotFound, ValidationFailed
from takedown.matching import state
from takedown.matching.hasher import HashResult
from takedown.matching.models import Bank, BankEntry, BankRole
from takedown.matching.pdq import DEFAULT_THRESHOLD
from takedown.matching.signals import PdqSignal, get_signal_type

# Letters, digits, "_", "-", "."; HMA's CAPS_AND_UNDERSCORE names are a subset.
BANK_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SOURCE_MAX: Final = 200
CLASSIFICATION_MAX: Final = 64
NOTE_MAX: Final = 10_000
DESCRIPTION_MAX: Final = 2_000
# The file hashes of zero bytes (d41d8cd9..., da39a3ee..., e3b0c442...). They turn up in hash
# lists copied from examples or made from failed downloads; as an entry, one would match
# every empty file (an empty upload, a truncated download), so no bank may hold them.
EMPTY_INPUT_HASHES: Final = {
    name: hashlib.new(name, b"").hexdigest() for name in ("md5", "sha1", "sha256")
}


@dataclass(frozen=True, slots=True)
class BankSummary:
    """A bank with its entry counts, for listings."""

    bank: Bank
    entries: int
    enabled_entries: int


# -- banks --------------------------------------------------------------------------------


def create_bank(
    session: Session,
    actor: Principal,
    *,
    name: str,
    role: BankRole = BankRole.BLOCK_LIST,
    pdq_threshold: int = DEFAULT_THRESHOLD,
    description: str = "",
    enabled: bool = True,
    now: datetime,
) -> Bank:
    name = check_name(name)
    _check_unused(session, name)
    bank = Bank(
        name=name,
        role=role,
        pdq_threshold=PdqSignal.check_threshold(pdq_threshold),
        description=_text(description, "description", DESCRIPTION_MAX),
        enabled=enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(bank)
    session.flush()
    audit.record(
        session,
        actor,
        "bank.create",
        "bank",
        bank.id,
        at=now,
        details={"name": name, "role": role.value, "pdq_threshold": bank.pdq_threshold},
    )
    return bank


def list_banks(session: Session, *, name: str | None = None) -> list[BankSummary]:
    """Banks by name with their entry counts (one bank when ``name`` is given)."""
    counts = (
        select(
            BankEntry.bank_id,
            func.count().label("total"),
            func.count().filter(BankEntry.enabled).label("enabled"),
        )
        .group_by(BankEntry.bank_id)
        .subquery()
    )
    query = select(Bank, counts.c.total, counts.c.enabled).outerjoin(
        counts, counts.c.bank_id == Bank.id
    )
    if name is not None:
        query = query.where(Bank.name == name)
    rows = session.execute(query.order_by(Bank.name)).all()
    return [BankSummary(bank, total or 0, enabled or 0) for bank, total, enabled in rows]


def get_bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank named {name!r}")
    return bank


def update_bank(
    session: Session,
    actor: Principal,
    bank: Bank,
    *,
    name: str | None = None,
    role: BankRole | None = None,
    pdq_threshold: int | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    now: datetime,
) -> Bank:
    """Rename, re-describe, re-threshold, change the role of, or enable/disable a bank.

    Thresholds and roles are read at match time, so only enabling or disabling touches the
    index (through the change log).
    """
    if enabled is not None and enabled != bank.enabled:
        state.record_bank_change(session, bank.id, now=now)
    changes: dict[str, Any] = {}
    if name is not None and name != bank.name:
        name = check_name(name)
        _check_unused(session, name)
        changes["name"] = [bank.name, name]
        bank.name = name
    if role is not None and role != bank.role:
        changes["role"] = [bank.role.value, role.value]
        bank.role = role
    if pdq_threshold is not None and pdq_threshold != bank.pdq_threshold:
        changes["pdq_threshold"] = [bank.pdq_threshold, PdqSignal.check_threshold(pdq_threshold)]
        bank.pdq_threshold = pdq_threshold
    if description is not None and description != bank.description:
        bank.description = _text(description, "description", DESCRIPTION_MAX)
        changes["description"] = True
    if enabled is not None and enabled != bank.enabled:
        changes["enabled"] = [bank.enabled, enabled]
        bank.enabled = enabled
    if changes:
        bank.updated_at = now
        session.flush()
        audit.record(session, actor, "bank.update", "bank", bank.id, at=now, details=changes)
    return bank


def delete_bank(session: Session, actor: Principal, bank: Bank, *, now: datetime) -> int:
    """Delete a bank and all its entries; returns how many entries went with it."""
    state.record_bank_change(session, bank.id, now=now)
    count = session.scalar(select(func.count()).where(BankEntry.bank_id == bank.id)) or 0
    # Deleted in SQL rather than through the ORM: a bank may hold millions of entries.
    session.execute(delete(BankEntry).where(BankEntry.bank_id == bank.id))
    session.delete(bank)
    session.flush()
    audit.record(
        session,
        actor,
        "bank.delete",
        "bank",
        bank.id,
        at=now,
        details={"name": bank.name, "entries": count},
    )
    return count


def check_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not BANK_NAME.match(name):
        raise ValidationFailed(
            "A bank name has 1 to 64 letters, digits, '_', '-' or '.', and starts with a "
            f"letter or digit; got {name!r}."
        )
    return name


def _check_unused(session: Session, name: str) -> None:
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise Conflict(f"a bank named {name!r} exists already")


# -- entries ------------------------------------------------------------------------------


def add_entry(
    session: Session,
    actor: Principal,
    bank: Bank,
    *,
    signal_type: str,
    value: str,
    quality: int | None = None,
    source: str = "",
    classification: str = "",
    note: str = "",
    now: datetime,
) -> BankEntry:
    """Add one signal to a bank; Conflict if the bank holds it already."""
    state.begin_change(session)
    entry = new_entry(
        bank,
        signal_type=signal_type,
        value=value,
        quality=quality,
        source=source,
        classification=classification,
        note=note,
        added_by=actor.label,
        added_at=now,
    )
    duplicate = session.scalar(
        select(BankEntry.id).where(
            BankEntry.bank_id == bank.id,
            BankEntry.signal_type == entry.signal_type,
            BankEntry.value == entry.value,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"bank {bank.name!r} holds this {entry.signal_type} already (entry {duplicate})",
            entry_id=duplicate,
        )
    session.add(entry)
    session.flush()
    state.record_changes(session, [entry.id], now=now)
    audit.record(
        session,
        actor,
        "bank.entry.add",
        "bank_entry",
        entry.id,
        at=now,
        details={"bank": bank.name, "signal_type": entry.signal_type, "value": entry.value},
    )
    return entry


def add_content(
    session: Session,
    actor: Principal,
    bank: Bank,
    result: HashResult,
    *,
    signal_types: Collection[str] | None = None,
    source: str = "",
    classification: str = "",
    note: str = "",
    now: datetime,
) -> tuple[list[BankEntry], list[BankEntry]]:
    """Add the signals of hashed content (all, or ``signal_types``) as entries.

    Returns (added, already there): signals the bank holds already are not an error here,
    so uploading the same file twice is harmless. A PDQ hash below the quality floor is
    added like any other; the index leaves it out.
    """
    wanted = list(result.signals) if signal_types is None else list(signal_types)
    added: list[BankEntry] = []
    existing: list[BankEntry] = []
    for name in wanted:
        kind = get_signal_type(name)
        signal = result.signals.get(kind.name)
        if signal is None:
            raise ValidationFailed(f"the content has no {kind.name} signal (is it an image?)")
        found = session.scalar(
            select(BankEntry).where(
                BankEntry.bank_id == bank.id,
                BankEntry.signal_type == kind.name,
                BankEntry.value == signal.value,
            )
        )
        if found is not None:
            existing.append(found)
            continue
        added.append(
            add_entry(
                session,
                actor,
                bank,
                signal_type=kind.name,
                value=signal.value,
                quality=signal.quality,
                source=source,
                classification=classification,
                note=note,
                now=now,
            )
        )
    return added, existing


def new_entry(
    bank: Bank,
    *,
    signal_type: str,
    value: str,
    quality: int | None,
    source: str,
    classification: str,
    note: str,
    added_by: str,
    added_at: datetime,
    enabled: bool = True,
) -> BankEntry:
    """A validated, normalised, unsaved entry (shared by ``add_entry`` and imports)."""
    kind = get_signal_type(signal_type)
    if quality is not None:
        if not kind.has_quality:
            quality = None  # a quality means nothing for exact hashes; drop it quietly
        elif isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
            raise ValidationFailed(f"A {kind.name} quality is 0 to 100; got {quality!r}.")
    checked = kind.validate(value)
    if EMPTY_INPUT_HASHES.get(kind.name) == checked:
        raise ValidationFailed(
            f"{checked} is the {kind.name} of an empty file (zero bytes): as a bank entry it"
            " would match every empty file, so it is refused"
        )
    return BankEntry(
        bank_id=bank.id,
        signal_type=kind.name,
        value=checked,
        quality=quality,
        source=_text(source, "source", SOURCE_MAX),
        classification=_text(classification, "classification", CLASSIFICATION_MAX),
        note=_text(note, "note", NOTE_MAX),
        added_by=_text(added_by, "added_by", SOURCE_MAX) or "unknown",
        added_at=added_at,
        enabled=enabled,
    )


def get_entry(session: Session, bank: Bank, entry_id: int) -> BankEntry:
    entry = session.get(BankEntry, entry_id)
    if entry is None or entry.bank_id != bank.id:
        raise NotFound(f"bank {bank.name!r} has no entry {entry_id}")
    return entry


def list_entries(
    session: Session,
    bank: Bank,
    *,
    signal_type: str | None = None,
    enabled: bool | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[BankEntry]:
    """A page of a bank's entries in id order, after ``after_id`` (keyset paging)."""
    query = select(BankEntry).where(BankEntry.bank_id == bank.id, BankEntry.id > after_id)
    if signal_type is not None:
        query = query.where(BankEntry.signal_type == get_signal_type(signal_type).name)
    if enabled is not None:
        query = query.where(BankEntry.enabled == enabled)
    return session.scalars(query.order_by(BankEntry.id).limit(limit)).all()


def update_entry(
    session: Session,
    actor: Principal,
    entry: BankEntry,
    *,
    enabled: bool | None = None,
    source: str | None = None,
    classification: str | None = None,
    note: str | None = None,
    now: datetime,
) -> BankEntry:
    """Disable or enable an entry, or correct its metadata."""
    if enabled is not None and enabled != entry.enabled:
        state.record_changes(session, [entry.id], now=now)
    changes: dict[str, Any] = {}
    if enabled is not None and enabled != entry.enabled:
        changes["enabled"] = [entry.enabled, enabled]
        entry.enabled = enabled
    if source is not None and source != entry.source:
        checked = _text(source, "source", SOURCE_MAX)
        changes["source"] = [entry.source, checked]
        entry.source = checked
    if classification is not None and classification != entry.classification:
        checked = _text(classification, "classification", CLASSIFICATION_MAX)
        changes["classification"] = [entry.classification, checked]
        entry.classification = checked
    if note is not None and note != entry.note:
        entry.note = _text(note, "note", NOTE_MAX)
        changes["note"] = True
    if changes:
        session.flush()
        audit.record(
            session, actor, "bank.entry.update", "bank_entry", entry.id, at=now, details=changes
        )
    return entry


def remove_entry(session: Session, actor: Principal, entry: BankEntry, *, now: datetime) -> None:
    """Delete an entry for good (disable it instead to keep its history in exports)."""
    state.record_changes(session, [entry.id], now=now)
    details = {
        "signal_type": entry.signal_type,
        "value": entry.value,
        "bank_id": str(entry.bank_id),
    }
    entry_id = entry.id
    session.delete(entry)
    session.flush()
    audit.record(
        session, actor, "bank.entry.remove", "bank_entry", entry_id, at=now, details=details
    )


def _text(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} is text")
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(f"{field} has at most {limit} characters; got {len(value)}")
    return value
