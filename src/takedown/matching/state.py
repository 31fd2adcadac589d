"""The in-process match index of the banks, kept current from a change log.

Design. Each process (API server, worker, CLI command) holds one ``BankIndex`` per database:
a ``Matcher`` filled with the *active* entries (entry enabled, bank enabled). Writers append
the id of every entry whose matchability may have changed to ``bank_changes`` in the same
transaction as the change (``record_changes``). Before each use, the index reads the log rows
after the last sequence number it applied and reloads just those entries: added or
re-enabled ones go into the matcher, disabled or deleted ones come out. No rebuild, no
serialized index in the database (HMA pickles whole indexes into PostgreSQL and every matcher
re-downloads them; reference sections 1.5-1.6), and every API process and worker sees a
committed change on its very next match.

Why the log cannot be skipped over. A reader must never advance past a sequence number whose
transaction has not committed yet, or it would miss that change for good. PostgreSQL hands
out sequence numbers at insert time, not in commit order, so writers to the log serialize on
a transaction-scoped advisory lock taken *before* their first insert and held until commit:
every committed number is then smaller than every uncommitted one. SQLite has one writer at a
time anyway. Writers take this lock before any other (the audit chain's), always in the same
order, so the two locks cannot deadlock.

Why the index reads through the caller's session. On SQLite a second connection opened
inside a request would wait forever for the writer lock the request holds. Reading through
the caller's session is safe as long as that session has not itself changed banks in its
open transaction (its uncommitted rows could roll back after the index applied them); such a
session is marked by ``record_changes`` and the index does not sync from it: a transaction
sees its own bank changes in matches only after it commits.

The log only grows (a few bytes per change). A process that starts reads the current maximum
sequence number first and then every active entry, so it needs no history.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Final
from weakref import WeakKeyDictionary

from sqlalchemy import Select, func, insert, literal, select, text
from sqlalchemy.orm import Session

from takedown.db.session import Database
from takedown.matching.hasher import HashResult
from takedown.matching.matcher import Match, Matcher
from takedown.matching.models import Bank, BankChange, BankEntry
from takedown.matching.pdq import DEFAULT_QUALITY_FLOOR
from takedown.matching.signals import SIGNAL_TYPES

# Any constant works; it names the lock that serializes writers of the change log on
# PostgreSQL (the audit chain uses another).
_PG_LOCK_KEY: Final = 0x7D_A0D1_B4A7
_DIRTY: Final = "takedown.matching.changed_in"
_LOG_BATCH: Final = 50_000
_Row = tuple[int, str, str, int | None]  # an active entry: id, signal type, value, quality
_ENTRY_BATCH: Final = 5_000


# -- the writer's side --------------------------------------------------------------------


def begin_change(session: Session) -> None:
    """Take the change-log lock for this transaction; call before any other write or lock."""
    # Begins the transaction if nothing has yet, so the marker below names the one that
    # will hold the change.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    # The marker is the transaction object itself, so it ends with the transaction.
    session.info[_DIRTY] = session.get_transaction()


def record_changes(session: Session, entry_ids: Iterable[int], *, now: datetime) -> None:
    """Log that these entries may match differently now (added, toggled or about to go)."""
    begin_change(session)
    rows = [{"entry_id": entry_id, "changed_at": now} for entry_id in entry_ids]
    if rows:
        session.execute(insert(BankChange), rows)


def record_bank_change(session: Session, bank_id: object, *, now: datetime) -> None:
    """Log every entry of a bank (enabled, disabled or about to be deleted), in one statement."""
    begin_change(session)
    entries = select(BankEntry.id, literal(now, BankChange.changed_at.type)).where(
        BankEntry.bank_id == bank_id
    )
    session.execute(
        insert(BankChange).from_select([BankChange.entry_id, BankChange.changed_at], entries)
    )


def changed_banks(session: Session) -> bool:
    """Whether this session's open transaction has written to the change log."""
    marker = session.info.get(_DIRTY)
    return marker is not None and marker is session.get_transaction()


# -- the reader's side --------------------------------------------------------------------


class BankIndex:
    """A ``Matcher`` over the active bank entries, synced from the change log before use."""

    def __init__(self, *, quality_floor: int = DEFAULT_QUALITY_FLOOR) -> None:
        self.matcher = Matcher(quality_floor=quality_floor)
        self.quality_floor = quality_floor
        # The last change-log sequence number applied; None until the first full load.
        self.seq: int | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.seq is not None

    def sync(self, session: Session) -> int:
        """Apply every committed change since the last sync; returns the entries reloaded."""
        if changed_banks(session):
            return 0
        # One thread syncs at a time; the others wait so they never match on a view older
        # than what was committed before their request.
        with self._lock:
            if self.seq is None:
                return self._load_all(session)
            return self._follow_log(session)

    def match(self, result: HashResult, thresholds: Mapping[str, int]) -> list[Match]:
        return self.matcher.match(result, thresholds=thresholds)

    def lookup(self, signal_type: str, value: str, threshold: int | None) -> list[Match]:
        return self.matcher.lookup(signal_type, value, threshold=threshold)

    def _load_all(self, session: Session) -> int:
        # The maximum first: a change committed after it is either already in the rows read
        # below (and applied again later, harmlessly) or still ahead of the log position.
        start = session.scalar(select(func.max(BankChange.seq))) or 0
        rows = session.execute(_active_entries().execution_options(yield_per=_ENTRY_BATCH))
        loaded = 0
        batch: list[_Row] = []
        for entry_id, signal_type, value, quality in rows:
            batch.append((entry_id, signal_type, value, quality))
            if len(batch) >= _ENTRY_BATCH:
                loaded += self._add(batch)
                batch = []
        loaded += self._add(batch)
        self.seq = start
        return loaded

    def _follow_log(self, session: Session) -> int:
        assert self.seq is not None  # the caller loaded first
        reloaded = 0
        while True:
            rows = session.execute(
                select(BankChange.seq, BankChange.entry_id)
                .where(BankChange.seq > self.seq)
                .order_by(BankChange.seq)
                .limit(_LOG_BATCH)
            ).all()
            if not rows:
                return reloaded
            reloaded += self._reload(session, {entry_id for _, entry_id in rows})
            self.seq = rows[-1].seq

    def _reload(self, session: Session, entry_ids: Collection[int]) -> int:
        ids = sorted(entry_ids)
        for start in range(0, len(ids), _ENTRY_BATCH):
            chunk = ids[start : start + _ENTRY_BATCH]
            found = session.execute(_active_entries().where(BankEntry.id.in_(chunk)))
            active: list[_Row] = [(a, b, c, d) for a, b, c, d in found]
            for entry_id in chunk:
                self.matcher.remove(entry_id)
            self._add(active)
        return len(ids)

    def _add(self, rows: list[_Row]) -> int:
        """Index (id, type, value, quality) rows; below-floor PDQ and unknown types stay out."""
        by_type: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for entry_id, signal_type, value, quality in rows:
            kind = SIGNAL_TYPES.get(signal_type)
            if kind is None:  # a type this build does not know (added by a newer version)
                continue
            if kind.has_quality and quality is not None and quality < self.quality_floor:
                continue
            by_type[signal_type].append((entry_id, value))
        for signal_type, pairs in by_type.items():
            self.matcher.add_many(signal_type, pairs)
        return sum(len(pairs) for pairs in by_type.values())


def _active_entries() -> Select[int, str, str, int | None]:
    return (
        select(BankEntry.id, BankEntry.signal_type, BankEntry.value, BankEntry.quality)
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(BankEntry.enabled, Bank.enabled)
    )


_INDEXES: WeakKeyDictionary[Database, BankIndex] = WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def index_for(database: Database, *, quality_floor: int = DEFAULT_QUALITY_FLOOR) -> BankIndex:
    """The process's index of ``database``'s banks, created empty on first use.

    Keyed by the ``Database`` object, so each test (with its own rolled-back database) gets
    its own index, while an API process or a worker keeps one for its lifetime.
    """
    with _INDEXES_LOCK:
        index = _INDEXES.get(database)
        if index is None or index.quality_floor != quality_floor:
            index = _INDEXES[database] = BankIndex(quality_floor=quality_floor)
        return index
