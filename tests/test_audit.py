"""The hash-chained audit log finds edited and deleted records."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from takedown.audit import service as audit
from takedown.audit.models import AuditRecord
from tests.factories import ACTOR, NOW


def _append(db: Session, n: int) -> list[AuditRecord]:
    return [
        audit.record(
            db, ACTOR, "test.action", "thing", i, at=NOW + timedelta(seconds=i), details={"i": i}
        )
        for i in range(n)
    ]


def test_an_untouched_chain_verifies(db: Session) -> None:
    records = _append(db, 5)
    result = audit.verify(db)
    assert result.ok
    assert result.records == 5
    assert result.head == records[-1].hash
    assert records[1].prev_hash == records[0].hash


def test_an_edited_record_is_named(db: Session) -> None:
    records = _append(db, 4)
    db.execute(
        update(AuditRecord).where(AuditRecord.seq == records[2].seq).values(details={"i": 99})
    )
    db.expire_all()
    problems = audit.verify(db).problems
    assert [(p.seq, "edited" in p.problem) for p in problems] == [(records[2].seq, True)]


def test_a_deleted_record_is_named(db: Session) -> None:
    records = _append(db, 4)
    db.execute(delete(AuditRecord).where(AuditRecord.seq == records[1].seq))
    problems = audit.verify(db).problems
    assert len(problems) == 1
    assert problems[0].seq == records[2].seq
    assert "deleted" in problems[0].problem
    assert str(records[0].seq) in problems[0].problem


def test_records_keep_their_content(db: Session) -> None:
    _append(db, 1)
    row = db.scalars(select(AuditRecord)).one()
    assert (row.actor_type, row.actor_label, row.object_id) == ("cli", "cli:tests", "0")
