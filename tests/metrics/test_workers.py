"""/metrics merges the job counts of several real worker processes (multiprocess mode)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.app import create_app
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job, JobStatus
from takedown.jobs.service import enqueue
from tests.jobs.support import start_runner, wait_until
from tests.metrics.conftest import AUTH, TOKEN, sample

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
JOBS = 12


@pytest.fixture
def workers(
    committed: Database, database_url: str, metrics_settings: Settings, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env |= {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "TAKEDOWN_METRICS_TOKEN": TOKEN,
        "TAKEDOWN_METRICS_DIR": str(metrics_settings.metrics_directory),
        "TAKEDOWN_JOB_MODULES": json.dumps(["tests.metrics.handlers"]),
        "TAKEDOWN_WORKER_POLL_SECONDS": "0.1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }
    processes = [start_runner(env, tmp_path, f"worker-{n}.log") for n in range(WORKERS)]
    yield processes
    for process in processes:
        if process.poll() is None:
            process.terminate()
        process.wait(30)


@pytest.mark.slow
def test_metrics_merge_the_job_counts_of_several_workers(
    committed: Database, metrics_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The app (the scraping process) joins the metrics directory before the workers start.
    app = create_app(metrics_settings, database=committed)
    with committed.transaction() as session:
        for n in range(JOBS):
            enqueue(session, "tests.metrics_wait", {"n": n})
    processes = request.getfixturevalue("workers")

    def done() -> bool:
        for process in processes:
            if process.poll() is not None:
                logs = "\n".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
                raise AssertionError(f"a worker exited with {process.returncode}:\n{logs}")
        with committed.transaction() as session:
            statuses = session.scalars(select(Job.status)).all()
        return statuses.count(JobStatus.SUCCEEDED) == JOBS

    wait_until(done, 60, "the workers to run every job")
    with committed.transaction() as session:
        ran_by = {
            job.locked_by.split("/")[0] for job in session.scalars(select(Job)) if job.locked_by
        }
    assert len(ran_by) == WORKERS, f"every worker should have run jobs, ran by {ran_by}"

    count = "takedown_job_duration_seconds_count"
    with TestClient(app) as client:

        def scrape() -> str:
            return client.get("/metrics", headers=AUTH).text

        # A worker records an attempt's duration just after committing the job's success.
        wait_until(
            lambda: sample(scrape(), count, kind="tests.metrics_wait", outcome="succeeded") == JOBS,
            30,
            "the scrape to count every job of every worker",
        )
        body = scrape()
    assert sample(body, "takedown_jobs", kind="tests.metrics_wait", status="queued") is None
    # Each worker wrote its own file; the scrape summed them.
    files = {p.name for p in metrics_settings.metrics_directory.glob("histogram_*.db")}
    assert {f"histogram_{process.pid}.db" for process in processes} <= files
