"""Engines and sessions.

The request or the job owns the transaction: services flush, never commit, and
``Database.transaction()`` commits once at the end or rolls everything back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from takedown.config import Settings


class _SerializedConnection(sqlite3.Connection):
    """A SQLite connection that holds its engine's writer lock from BEGIN to COMMIT/ROLLBACK.

    SQLite allows one writer at a time. Left to itself, a thread that finds the database
    locked sleeps in SQLite's busy handler with growing naps (up to 100 ms each), which puts
    a long tail on latency when a thread pool of requests writes at once. Waiting on a Python
    lock instead hands the database to the next writer the moment the previous one is done.
    Other processes (a separate worker) still meet the busy timeout, which stays as a backstop.
    """

    writer_lock: threading.Lock
    holding = False

    def begin_immediate(self) -> None:
        if not self.writer_lock.acquire(timeout=_LOCK_TIMEOUT):
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


_LOCK_TIMEOUT = 30.0


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


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for a database URL, with SQLite tuned for the embedded default."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        lock = threading.Lock()

        class Connection(_SerializedConnection):
            writer_lock = lock

        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30, "factory": Connection},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


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
        return cls(create_db_engine(settings.effective_database_url, echo=settings.sql_echo))

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
