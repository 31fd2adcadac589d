"""Engines and sessions.

The request or the job owns the transaction: services flush, never commit, and
``Database.transaction()`` commits once at the end or rolls everything back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from takedown.config import Settings

# How long a SQLite transaction waits for the writer lock at least (a worker's job may hold it
# for a while); beyond it the request fails with "database is locked" (503), never hangs.
_DEFAULT_LOCK_TIMEOUT = 10.0


class _SerializedConnection(sqlite3.Connection):
    """A SQLite connection that holds its engine's writer lock from BEGIN to COMMIT/ROLLBACK.

    SQLite allows one writer at a time. Left to itself, a thread that finds the database
    locked sleeps in SQLite's busy handler with growing naps (up to 100 ms each), which puts
    a long tail on latency when a thread pool of requests writes at once. Waiting on a Python
    lock instead hands the database to the next writer the moment the previous one is done.
    Other processes (a separate worker) still meet the busy timeout, which stays as a backstop.
    """

    writer_lock: threading.Lock
    lock_timeout = _DEFAULT_LOCK_TIMEOUT
    holding = False

    def begin_immediate(self) -> None:
        if not self.writer_lock.acquire(timeout=self.lock_timeout):
            raise sqlite3.OperationalError("database is locked (waited for the writer lock)")
        self.holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self.holding:
            self.holding = False
            self.writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


@dataclass(frozen=True)
class Limits:
    """How long anything may wait on the database, and how many connections a process keeps.

    Every wait is bounded so that a slow transaction or an outage makes requests fail fast
    (the API answers 503) instead of piling up: statements, lock waits (row locks and
    advisory locks alike), idle transactions, pool checkouts and new connections.
    """

    statement_timeout: float = 60.0
    lock_timeout: float = 5.0
    idle_in_transaction_timeout: float = 120.0
    pool_timeout: float = 5.0
    connect_timeout: int = 5
    pool_size: int = 10
    max_overflow: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        # The pool must hold every request admitted at once (see web/admission.py) plus the
        # jobs of a worker running in the same process, so no admitted request waits for a
        # connection that only another admitted request could give back.
        return cls(
            statement_timeout=settings.db_statement_timeout_seconds,
            lock_timeout=settings.db_lock_timeout_seconds,
            idle_in_transaction_timeout=settings.db_idle_in_transaction_timeout_seconds,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_timeout=settings.db_connect_timeout_seconds,
            pool_size=settings.max_concurrent_requests + 4,
            max_overflow=10,
        )


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and transactions that take the write lock at once.

    pysqlite's own transaction handling starts transactions lazily (DEFERRED). A deferred
    transaction that reads and then writes fails at once with SQLITE_BUSY when another writer
    committed in between, and the busy timeout does not help there. ``BEGIN IMMEDIATE`` makes
    writers queue instead, which is what concurrent intake needs.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.connection.dbapi_connection.begin_immediate()


def _configure_postgresql(engine: Engine, limits: Limits) -> None:
    """Session timeouts on every new connection (``SET``, not ``SET LOCAL``: they outlive it).

    Set here rather than in the URL's ``options`` so that a URL carrying its own options (a
    search_path, say) keeps them.
    """
    settings = (
        ("statement_timeout", limits.statement_timeout),
        ("lock_timeout", limits.lock_timeout),
        ("idle_in_transaction_session_timeout", limits.idle_in_transaction_timeout),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            for name, seconds in settings:
                cursor.execute(f"SET {name} = {int(seconds * 1000)}")
        dbapi_conn.commit()


def create_db_engine(url: str, *, echo: bool = False, limits: Limits | None = None) -> Engine:
    """An engine for a database URL, with SQLite tuned for the embedded default."""
    limits = limits or Limits()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()
        wait = max(limits.lock_timeout, _DEFAULT_LOCK_TIMEOUT)

        class Connection(_SerializedConnection):
            writer_lock = lock
            lock_timeout = wait

        engine = create_engine(
            url,
            echo=echo,
            pool_size=limits.pool_size,
            max_overflow=limits.max_overflow,
            pool_timeout=limits.pool_timeout,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": Connection},
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        echo=echo,
        # A connection broken by a database restart is found and replaced before use.
        pool_pre_ping=True,
        pool_size=limits.pool_size,
        max_overflow=limits.max_overflow,
        pool_timeout=limits.pool_timeout,
        connect_args={
            "connect_timeout": limits.connect_timeout,
            # A peer that vanished (a dropped connection, a failed-over server) is noticed
            # by the kernel within about 30 s instead of the default two hours.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        },
    )
    _configure_postgresql(engine, limits)
    return engine


class Database:
    """An engine and its session factory."""

    def __init__(self, engine: Engine, *, bind: Connection | None = None) -> None:
        self.engine = engine
        if bind is None:
            self.sessions = sessionmaker(engine, expire_on_commit=False)
        else:
            # Tests: every session joins the connection's outer transaction through a
            # savepoint, so a test's whole effect is rolled back at its end.
            self.sessions = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            create_db_engine(
                settings.effective_database_url,
                echo=settings.sql_echo,
                limits=Limits.from_settings(settings),
            )
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
