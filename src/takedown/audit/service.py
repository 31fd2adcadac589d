"""Appending to, chaining and verifying the audit log.

Two steps, so that no action waits for another one's transaction:

1. ``record`` inserts the record in the caller's transaction: it commits with the action or
   not at all. It takes no lock and computes no hash.
2. ``chain`` is the single appender: it takes the committed records that are not chained yet
   in the order they were inserted and gives each the next ``position`` and a keyed digest
   (HMAC-SHA256, key outside the database: ``audit.keys``) over the previous hash, its
   position and its content. The ``audit.chain`` job runs it every few seconds; only one
   appender runs at a time (a try-lock on PostgreSQL, SQLite's single writer), and one that
   finds the lock taken simply leaves the work to the other.

Before, every audited write in every process took one global lock to read the chain's head,
so one slow transaction stalled every writer behind it (issue 19). The price of chaining after
commit is a short window (until the next ``audit.chain``) in which a record is stored but not
yet chained; ``verify`` counts such records as pending.

``verify`` walks the chain by position and names every record whose content no longer matches
its digest (edited, or rewritten without the key) and every record whose predecessor is gone
(deleted). Deleting the newest records leaves a shorter chain that is consistent in itself:
signed checkpoints of the chain's head, kept outside the database (``audit.checkpoints``),
catch that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.auth.principal import Principal

GENESIS = "0" * 64
# Any constant works; it names the appender's try-lock on PostgreSQL.
_PG_CHAIN_LOCK = 0x7D_A0D1_7107
_BATCH = 1000


def _content(record: AuditRecord) -> str:
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
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(key: bytes, prev_hash: str, position: int, record: AuditRecord) -> str:
    """The chain hash: HMAC-SHA256 over the previous hash, the position and the content.

    Without the key nobody can compute it, so a row edited in the database and the chain
    recomputed after it no longer verifies; the position in it makes reordering visible.
    """
    message = f"{prev_hash}\n{position}\n{_content(record)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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
    """Insert one record in the caller's transaction: it commits with the action or not at all.

    The appender chains it once committed (see the module's docstring).
    """
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
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Head:
    """The last chained record: where the next one attaches."""

    position: int
    hash: str


def head(session: Session) -> Head:
    row = session.execute(
        select(AuditRecord.position, AuditRecord.hash)
        .where(AuditRecord.position.is_not(None))
        .order_by(AuditRecord.position.desc())
        .limit(1)
    ).first()
    if row is None or row.position is None or row.hash is None:
        return Head(0, GENESIS)
    return Head(row.position, row.hash)


def chain(session: Session, key: bytes, *, batch: int = _BATCH) -> int:
    """Chain up to ``batch`` committed records that wait for it; return how many.

    Returns 0 at once when another appender is at work (PostgreSQL): the records it does not
    see yet are left for the next run.
    """
    if session.get_bind().dialect.name == "postgresql":
        got = session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
        if not got:
            return 0
    last = head(session)
    pending = session.scalars(
        select(AuditRecord)
        .where(AuditRecord.position.is_(None))
        .order_by(AuditRecord.seq)
        .limit(batch)
    ).all()
    position, prev = last.position, last.hash
    for entry in pending:
        position += 1
        entry.position = position
        entry.prev_hash = prev
        entry.hash = digest(key, prev, position, entry)
        prev = entry.hash
    session.flush()
    return len(pending)


def chain_all(session: Session, key: bytes) -> int:
    """Chain every record that waits (the CLI and tests; the job does one batch a run)."""
    total = 0
    while True:
        done = chain(session, key)
        total += done
        if done < _BATCH:
            return total


@dataclass(frozen=True)
class ChainProblem:
    """One place where the chain does not hold."""

    seq: int
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    records: int
    head: str
    # The position of the last chained record (0 for an empty chain).
    position: int
    # Records stored but not chained yet: they are checked once the appender has run.
    pending: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _chained(session: Session, batch: int = _BATCH) -> Iterator[AuditRecord]:
    after = -1
    while True:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.position > after)
            .order_by(AuditRecord.position)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].position
        assert last is not None  # selected by position > after
        after = last
        session.expunge_all()


def verify(session: Session, key: bytes) -> VerifyResult:
    """Walk the whole chain and name every record that was edited or whose predecessor is gone.

    Deletions are found through ``prev_hash``, not through gaps in the numbering.
    """
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    previous: AuditRecord | None = None
    count = 0
    position = 0
    for entry in _chained(session):
        count += 1
        assert entry.position is not None
        if entry.prev_hash != expected_prev:
            where = f"after record {previous.seq}" if previous is not None else "at the start"
            problems.append(
                ChainProblem(entry.seq, f"the record before it is missing ({where}): deleted?")
            )
        expected = digest(key, entry.prev_hash or "", entry.position, entry)
        if not hmac.compare_digest(expected, entry.hash or ""):
            problems.append(ChainProblem(entry.seq, "its content does not match its hash: edited"))
        expected_prev = entry.hash or ""
        previous = entry
        position = entry.position
    pending = session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.position.is_(None))
    )
    return VerifyResult(
        records=count,
        head=expected_prev,
        position=position,
        pending=pending or 0,
        problems=problems,
    )


def hash_at(session: Session, position: int) -> str | None:
    """The hash of the record at ``position``, or None when there is none."""
    return session.scalar(select(AuditRecord.hash).where(AuditRecord.position == position))
