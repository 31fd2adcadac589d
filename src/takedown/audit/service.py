"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.auth.principal import Principal

GENESIS = "0" * 64
# Any constant works; it names the lock that serializes appends on PostgreSQL.
_PG_LOCK_KEY = 0x7D_A0D1_7106


def _digest(prev_hash: str, record: AuditRecord) -> str:
    """The chain hash: SHA-256 over the previous hash and a canonical form of the record."""
    content = {
        "at": record.at.isoformat(timespec="microseconds"),
        "actor_type": record.actor_type,
        "actor_id": record.actor_id,
        "actor_label": record.actor_label,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "details": record.details,
        "note": record.note,
    }
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _last_hash(session: Session) -> str:
    if session.get_bind().dialect.name == "postgresql":
        # Appends must not interleave, or two records would claim the same predecessor.
        # The transaction-scoped lock is released by the caller's commit or rollback.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1))
    return last or GENESIS


def record(
    session: Session,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: object | None,
    *,
    at: datetime,
    details: dict[str, Any] | None = None,
    note: str | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction: it commits with the action or not at all."""
    entry = AuditRecord(
        at=at,
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
        note=note,
    )
    entry.prev_hash = _last_hash(session)
    entry.hash = _digest(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainProblem:
    """One place where the chain does not hold."""

    seq: int
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _records(session: Session, batch: int = 1000) -> Iterator[AuditRecord]:
    after = -1
    while True:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.seq > after)
            .order_by(AuditRecord.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain and name every record that was edited or whose predecessor is gone.

    Sequence numbers may have gaps (PostgreSQL does not reuse the numbers of rolled-back
    transactions), so deletions are found through ``prev_hash``, not through the numbering.
    """
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    previous_seq: int | None = None
    count = 0
    for entry in _records(session):
        count += 1
        if entry.prev_hash != expected_prev:
            where = f"after record {previous_seq}" if previous_seq is not None else "at the start"
            problems.append(
                ChainProblem(entry.seq, f"the record before it is missing ({where}): deleted?")
            )
        if _digest(entry.prev_hash, entry) != entry.hash:
            problems.append(ChainProblem(entry.seq, "its content does not match its hash: edited"))
        expected_prev = entry.hash
        previous_seq = entry.seq
    return VerifyResult(records=count, head=expected_prev, problems=problems)
