"""Test fixtures shared by every domain.

The schema is built once per run by the migrations, never by ``create_all``. Each test then
runs inside a transaction that is rolled back at its end (``db``/``database``), except tests
that need commits visible to other connections or processes (``committed``), which clean up
after themselves.

SQLite by default; PostgreSQL when ``TAKEDOWN_TEST_DATABASE_URL`` is set. On PostgreSQL each run
gets its own schema, so concurrent runs on one server do not see each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from takedown.app import create_app
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.base import Base
from takedown.db.migrate import upgrade
from takedown.db.registry import import_all_models
from takedown.db.session import Database, create_db_engine

# Everything the tests read lives in the repository (tests/data/README.md says where from).
TESTDATA = Path(__file__).resolve().parent / "data"


@contextmanager
def empty_database(sqlite_file: Path, prefix: str = "t") -> Iterator[str]:
    """A database with no tables, as a URL other processes can use too: a SQLite file, or on
    PostgreSQL (``TAKEDOWN_TEST_DATABASE_URL``) a schema of its own, dropped afterwards."""
    server_url = os.environ.get("TAKEDOWN_TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{sqlite_file}"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(server_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The empty database of this run (one per xdist worker), migrated by ``engine``."""
    with empty_database(tmp_path_factory.mktemp("db") / "test.sqlite3") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    import_all_models()
    engine = create_db_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own data directory, the run's database."""
    # The static resolver knows no names: no test can send a DNS query off the machine.
    return Settings(data_dir=tmp_path / "data", database_url=database_url, fetch_resolver="static")


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    """A Database whose every transaction is rolled back when the test ends."""
    connection = engine.connect()
    outer = connection.begin()
    yield Database(engine, bind=connection)
    outer.rollback()
    connection.close()


@pytest.fixture
def db(database: Database) -> Iterator[Session]:
    """One session inside the test's rolled-back transaction."""
    with database.sessions() as session:
        yield session


@pytest.fixture
def committed(engine: Engine) -> Iterator[Database]:
    """A Database that really commits, for tests across connections or processes.

    Every table is emptied afterwards so later tests start from an empty schema.
    """
    yield Database(engine)
    with engine.begin() as conn:
        revision = conn.scalar(text("SELECT revision FROM directory_revision WHERE id = 1")) or 0
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        # The migration's one counter row (see orgs.models.DirectoryRevision). It only ever
        # moves forward: a process caches the directory's IP index by revision, and a number
        # used again would bring back the index of organizations deleted here.
        conn.execute(
            text("INSERT INTO directory_revision (id, revision) VALUES (1, :revision)"),
            {"revision": revision + 1},
        )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


@pytest.fixture
def app(settings: Settings, database: Database, clock: FrozenClock) -> FastAPI:
    return create_app(settings, database=database, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client
