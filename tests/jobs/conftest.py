"""Fixtures of the jobs tests: the effects table, a worker on a frozen clock."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.worker import Worker
from tests.jobs.handlers import EFFECTS, HOOKS


@pytest.fixture
def jobs_db(database: Database) -> Database:
    """The test's rolled-back database, with the effects table made inside that transaction."""
    with database.transaction() as session:
        EFFECTS.create(session.connection())
    return database


@pytest.fixture
def committed_jobs(committed: Database, engine: Engine) -> Iterator[Database]:
    """A really committing database with the effects table, dropped afterwards."""
    EFFECTS.create(engine)
    yield committed
    EFFECTS.drop(engine)


@pytest.fixture
def worker(jobs_db: Database, settings: Settings, clock: FrozenClock) -> Worker:
    return Worker(jobs_db, settings, clock, worker_id="w1", rng=random.Random(7))


@pytest.fixture(autouse=True)
def _clear_hooks() -> Iterator[None]:
    yield
    HOOKS.clear()
