"""Helpers for the jobs tests."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import select

from takedown.db.session import Database
from takedown.jobs.models import Job
from takedown.jobs.service import get_job
from tests.jobs.handlers import EFFECTS


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def start_runner(env: Mapping[str, str], folder: Path, log: str) -> subprocess.Popen[bytes]:
    """Start ``python -m takedown.jobs.runner`` in ``folder``; its output goes to ``folder/log``."""
    with (folder / log).open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "takedown.jobs.runner"],
            env=env,
            cwd=folder,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def effects(database: Database) -> list[tuple[str, str, int]]:
    """The handlers' committed effects: (job id, label, attempt), oldest first."""
    with database.transaction() as session:
        rows = session.execute(
            select(EFFECTS.c.job_id, EFFECTS.c.label, EFFECTS.c.attempt).order_by(EFFECTS.c.id)
        )
        return [(row.job_id, row.label, row.attempt) for row in rows]


def load(database: Database, job_id: uuid.UUID) -> Job:
    """The job as committed now (detached; sessions keep loaded values after commit)."""
    with database.transaction() as session:
        return get_job(session, job_id)
