"""The audit log: records chained after commit with a keyed digest, and signed checkpoints.

The chain must name any edited or deleted record, a chain recomputed without the key, and,
against a checkpoint, the newest records deleted (truncation) or the whole chain rebuilt.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from takedown.audit import checkpoints, keys
from takedown.audit import service as audit
from takedown.audit.models import AuditRecord
from takedown.config import Settings
from takedown.db.migrate import upgrade
from takedown.db.session import Database, create_db_engine
from takedown.errors import ValidationFailed
from tests.factories import ACTOR, NOW

KEY = b"an audit chain key of 32+ bytes!"


def _append(db: Session, n: int, start: int = 0) -> list[AuditRecord]:
    return [
        audit.record(
            db, ACTOR, "test.action", "thing", i, at=NOW + timedelta(seconds=i), details={"i": i}
        )
        for i in range(start, start + n)
    ]


def _chained(db: Session, n: int) -> list[AuditRecord]:
    records = _append(db, n)
    assert audit.chain_all(db, KEY) == n
    return records


def test_a_record_waits_unchained_until_the_appender_runs(db: Session) -> None:
    records = _append(db, 3)
    assert [r.hash for r in records] == [None, None, None]
    before = audit.verify(db, KEY)
    assert (before.ok, before.records, before.pending) == (True, 0, 3)
    assert audit.chain_all(db, KEY) == 3
    after = audit.verify(db, KEY)
    assert (after.ok, after.records, after.pending) == (True, 3, 0)
    assert [r.position for r in records] == [1, 2, 3]
    assert records[0].prev_hash == audit.GENESIS
    assert records[1].prev_hash == records[0].hash
    assert after.head == records[-1].hash
    assert audit.chain_all(db, KEY) == 0


def test_the_chain_continues_from_its_head(db: Session) -> None:
    first = _chained(db, 2)
    later = _append(db, 2, start=2)
    assert audit.chain_all(db, KEY) == 2
    assert later[0].prev_hash == first[-1].hash
    assert [r.position for r in later] == [3, 4]
    assert audit.verify(db, KEY).ok


def test_an_edited_record_is_named(db: Session) -> None:
    records = _chained(db, 4)
    db.execute(
        update(AuditRecord).where(AuditRecord.seq == records[2].seq).values(details={"i": 99})
    )
    db.expire_all()
    problems = audit.verify(db, KEY).problems
    assert [(p.seq, "edited" in p.problem) for p in problems] == [(records[2].seq, True)]


def test_a_deleted_record_is_named(db: Session) -> None:
    records = _chained(db, 4)
    db.execute(delete(AuditRecord).where(AuditRecord.seq == records[1].seq))
    problems = audit.verify(db, KEY).problems
    assert len(problems) == 1
    assert problems[0].seq == records[2].seq
    assert "deleted" in problems[0].problem
    assert str(records[0].seq) in problems[0].problem


def test_a_chain_rewritten_without_the_key_is_named(db: Session) -> None:
    """Edit a record and recompute every hash after it as an attacker would: plain SHA-256,
    or the module's own digest with a key of their own. Neither verifies."""
    records = _chained(db, 3)
    for forged_key in (None, b"the attacker's own key, 32 bytes"):
        prev = audit.GENESIS
        for entry in records:
            entry.details = {"i": -1} if entry is records[1] else entry.details
            assert entry.position is not None
            entry.prev_hash = prev
            entry.hash = (
                hashlib.sha256(f"{prev}\n{entry.position}".encode()).hexdigest()
                if forged_key is None
                else audit.digest(forged_key, prev, entry.position, entry)
            )
            prev = entry.hash
        db.flush()
        db.expire_all()
        problems = audit.verify(db, KEY).problems
        assert {p.seq for p in problems} == {r.seq for r in records}
        assert all("edited" in p.problem for p in problems)


def test_records_keep_their_content(db: Session) -> None:
    _append(db, 1)
    row = db.scalars(select(AuditRecord)).one()
    assert (row.actor_type, row.actor_label, row.object_id) == ("cli", "cli:tests", "0")


def _settings(tmp_path: Path) -> Settings:
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY)
    return Settings(data_dir=tmp_path / "data", audit_key_file=key_file)


def test_a_checkpoint_catches_truncation_and_rebuilding(db: Session, tmp_path: Path) -> None:
    config = _settings(tmp_path)
    assert keys.chain_key(config) == KEY
    records = _append(db, 5)
    taken = checkpoints.take(db, KEY, NOW)
    assert (taken.position, taken.records, taken.hash) == (5, 5, records[-1].hash)
    path = checkpoints.write(taken, keys.checkpoint_key(config), config.audit_checkpoints)
    assert checkpoints.newest(config.audit_checkpoints) == path
    public = keys.checkpoint_key(config).public_key()
    read = checkpoints.read(path, public)
    assert read == taken
    assert checkpoints.check(db, read) == []

    # Truncation: the newest two records deleted leave a chain that verifies in itself.
    db.execute(delete(AuditRecord).where(AuditRecord.seq.in_([r.seq for r in records[3:]])))
    db.expire_all()
    assert audit.verify(db, KEY).ok
    [truncated] = checkpoints.check(db, read)
    assert "position 5" in truncated
    assert "deleted" in truncated

    # Rebuilt with the key (someone who has it), from a record onwards: the hashes differ.
    db.execute(delete(AuditRecord))
    _append(db, 5, start=100)
    audit.chain_all(db, KEY)
    assert audit.verify(db, KEY).ok
    [rebuilt] = checkpoints.check(db, read)
    assert "rewritten" in rebuilt


def test_a_forged_or_damaged_checkpoint_is_refused(db: Session, tmp_path: Path) -> None:
    config = _settings(tmp_path)
    _append(db, 2)
    path = checkpoints.write(
        checkpoints.take(db, KEY, NOW), keys.checkpoint_key(config), tmp_path / "cp"
    )
    public = keys.checkpoint_key(config).public_key()
    path.write_text(path.read_text().replace('"position": 2', '"position": 1'))
    with pytest.raises(checkpoints.CheckpointError, match="signature"):
        checkpoints.read(path, public)
    path.write_text("not json")
    with pytest.raises(checkpoints.CheckpointError, match="cannot read"):
        checkpoints.read(path, public)


def test_no_checkpoint_of_a_broken_chain(db: Session) -> None:
    records = _chained(db, 2)
    db.execute(update(AuditRecord).where(AuditRecord.seq == records[0].seq).values(note="x"))
    db.expire_all()
    with pytest.raises(ValidationFailed, match="does not verify"):
        checkpoints.take(db, KEY, NOW)


def test_appends_do_not_wait_for_a_slow_transaction(committed: Database) -> None:
    """A transaction that appended a record and then stalls holds up no other append.

    Before, every append took one global lock until its transaction ended, so one slow
    transaction stalled every audited write in every process (issue 19).
    """
    if committed.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time whatever the audit log does")
    stalled = threading.Event()
    release = threading.Event()

    def slow() -> None:
        with committed.transaction() as session:
            _append(session, 1)
            stalled.set()
            release.wait(30)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert stalled.wait(30)
        with committed.transaction() as session:
            # Fails with a lock timeout (5 s) if appends still serialize on a global lock.
            _append(session, 1, start=1)
    finally:
        release.set()
        thread.join(30)
    with committed.transaction() as session:
        assert audit.chain_all(session, KEY) == 2
        assert audit.verify(session, KEY).ok


def test_the_upgrade_chains_existing_records_again_with_the_key(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(engine, "0008_console")
    with engine.begin() as conn:
        for i, (prev, digest) in enumerate([("0" * 64, "a" * 64), ("a" * 64, "b" * 64)]):
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor_type, actor_label, action, object_type,"
                    " details, prev_hash, hash) VALUES (:at, 'cli', 'cli:old', 'old.action',"
                    " 'thing', '{}', :prev, :hash)"
                ),
                {"at": NOW + timedelta(seconds=i), "prev": prev, "hash": digest},
            )
    upgrade(engine)
    database = Database(engine)
    with database.transaction() as session:
        assert audit.verify(session, KEY).pending == 2
        assert audit.chain_all(session, KEY) == 2
        result = audit.verify(session, KEY)
        assert (result.ok, result.records, result.pending) == (True, 2, 0)
    engine.dispose()
