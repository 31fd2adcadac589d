"""The in-process index follows the change log: changes made by other sessions and processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from takedown.db.session import Database, create_db_engine
from takedown.matching import banks, state
from takedown.matching.lookup import match_hashes
from takedown.matching.models import Bank
from takedown.matching.state import BankIndex, index_for
from tests.factories import ACTOR, NOW

PDQ = "f" * 64
MD5 = "0" * 32


def make_bank(session: Session, name: str = "known") -> Bank:
    return banks.create_bank(session, ACTOR, name=name, now=NOW)


def add(session: Session, bank_name: str, signal_type: str, value: str) -> int:
    bank = banks.get_bank(session, bank_name)
    return banks.add_entry(session, ACTOR, bank, signal_type=signal_type, value=value, now=NOW).id


def counts(index: BankIndex, database: Database) -> dict[str, int]:
    with database.sessions() as session:
        index.sync(session)
    return {name: n for name, n in index.matcher.counts().items() if n}


def test_two_indexes_follow_every_kind_of_change(database: Database) -> None:
    first, second = BankIndex(), BankIndex()
    with database.transaction() as s:
        make_bank(s)
        pdq_id = add(s, "known", "pdq", PDQ)
        md5_id = add(s, "known", "md5", MD5)
    assert counts(first, database) == {"pdq": 1, "md5": 1}
    with database.transaction() as s:  # another "process" disables one entry, adds one
        bank = banks.get_bank(s, "known")
        banks.update_entry(s, ACTOR, banks.get_entry(s, bank, pdq_id), enabled=False, now=NOW)
        add(s, "known", "sha1", "1" * 40)
    assert counts(first, database) == {"md5": 1, "sha1": 1}
    # An index that starts now loads the same state without replaying history.
    assert counts(second, database) == {"md5": 1, "sha1": 1}
    with database.transaction() as s:
        bank = banks.get_bank(s, "known")
        banks.remove_entry(s, ACTOR, banks.get_entry(s, bank, md5_id), now=NOW)
        banks.update_entry(s, ACTOR, banks.get_entry(s, bank, pdq_id), enabled=True, now=NOW)
    assert counts(first, database) == counts(second, database) == {"pdq": 1, "sha1": 1}
    with database.transaction() as s:
        banks.update_bank(s, ACTOR, banks.get_bank(s, "known"), enabled=False, now=NOW)
    assert counts(first, database) == counts(second, database) == {}
    with database.transaction() as s:
        banks.update_bank(s, ACTOR, banks.get_bank(s, "known"), enabled=True, now=NOW)
    assert counts(first, database) == {"pdq": 1, "sha1": 1}
    with database.transaction() as s:
        banks.delete_bank(s, ACTOR, banks.get_bank(s, "known"), now=NOW)
    assert counts(first, database) == counts(second, database) == {}


class Rollback(Exception):
    pass


def test_uncommitted_changes_never_reach_the_index(database: Database) -> None:
    index = BankIndex()
    assert counts(index, database) == {}

    def add_match_and_roll_back() -> None:
        with database.transaction() as s:
            make_bank(s)
            add(s, "known", "md5", MD5)
            # The transaction that made the change does not see it in matches before it
            # commits, and the index does not take it from there: it might roll back, as it
            # does here.
            assert match_hashes(s, {"md5": MD5}, index=index).matches == []
            raise Rollback

    with pytest.raises(Rollback):
        add_match_and_roll_back()
    assert counts(index, database) == {}
    with database.transaction() as s:
        make_bank(s)
        add(s, "known", "md5", MD5)
    with database.transaction() as s:
        assert match_hashes(s, {"md5": MD5}, index=index).known


def test_a_fresh_session_that_changes_banks_is_marked(database: Database) -> None:
    index = BankIndex()
    with database.transaction() as s:
        bank = make_bank(s)
    with database.sessions() as s:
        # The change is the first thing this session does: no transaction had begun yet.
        state.record_bank_change(s, bank.id, now=NOW)
        assert state.changed_banks(s)
        banks.add_entry(s, ACTOR, bank, signal_type="md5", value=MD5, now=NOW)
        assert match_hashes(s, {"md5": MD5}, index=index).matches == []
        s.rollback()
        assert not state.changed_banks(s)
    assert counts(index, database) == {}


def test_large_change_batches(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "_LOG_BATCH", 3)
    monkeypatch.setattr(state, "_ENTRY_BATCH", 2)
    index = BankIndex()
    with database.transaction() as s:
        make_bank(s)
        add(s, "known", "md5", MD5)
    assert counts(index, database) == {"md5": 1}
    with database.transaction() as s:
        for i in range(1, 11):
            add(s, "known", "md5", f"{i:032x}")
    assert counts(index, database) == {"md5": 11}
    fresh = BankIndex()
    assert counts(fresh, database) == {"md5": 11}


def test_one_index_per_database(database: Database, engine: object) -> None:
    assert index_for(database) is index_for(database)
    other = Database(database.engine)
    assert index_for(other) is not index_for(database)


@pytest.fixture
def second_process(database_url: str, committed: Database) -> Iterator[Database]:
    """A second Database with its own engine and connections, as another process has."""
    other = Database(create_db_engine(database_url))
    yield other
    other.dispose()


def test_index_of_another_process_sees_committed_changes(
    committed: Database, second_process: Database
) -> None:
    reader = index_for(second_process)
    with second_process.transaction() as s:
        assert match_hashes(s, {"md5": MD5}, index=reader).matches == []
    with committed.transaction() as s:
        make_bank(s)
        entry_id = add(s, "known", "md5", MD5)
    with second_process.transaction() as s:
        [match] = match_hashes(s, {"md5": MD5}, index=reader).matches
        assert match.entry_id == entry_id
    with committed.transaction() as s:
        bank = banks.get_bank(s, "known")
        banks.update_entry(s, ACTOR, banks.get_entry(s, bank, entry_id), enabled=False, now=NOW)
    with second_process.transaction() as s:
        assert match_hashes(s, {"md5": MD5}, index=reader).matches == []


def test_writers_of_the_change_log_take_turns(
    committed: Database, second_process: Database
) -> None:
    """A writer holds the log until it commits, so sequence numbers commit in order and a
    reader can never skip a change that commits late."""
    with committed.transaction() as s:
        make_bank(s)
    second_done = threading.Event()

    def second_writer() -> None:
        with second_process.transaction() as s:
            add(s, "known", "md5", "2" * 32)
        second_done.set()

    with committed.transaction() as s:
        # Only the change log, no audit record: the audit chain's own lock is not what orders
        # the log.
        state.record_changes(s, [123_456], now=NOW)
        thread = threading.Thread(target=second_writer)
        thread.start()
        # The second writer waits for the first to commit.
        assert not second_done.wait(0.5)
    thread.join(timeout=30)
    assert second_done.is_set()
    reader = BankIndex()
    with committed.transaction() as s:
        reader.sync(s)
    assert reader.matcher.counts()["md5"] == 1
