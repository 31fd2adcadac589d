"""The worker process: a killed worker's job is retried and completes once; SIGTERM drains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import JobStatus
from takedown.jobs.runner import run_worker
from takedown.jobs.service import enqueue
from takedown.jobs.worker import Worker
from tests.jobs.support import effects, load, start_runner, wait_until

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2

Spawn = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def spawn(committed_jobs: Database, database_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """Start ``python -m takedown.jobs.runner`` processes; any left are killed at the end.

    Depends on ``committed_jobs`` so that the processes are gone before its tables are
    emptied and dropped (a live transaction would block the DROP on PostgreSQL).
    """
    processes: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env |= {
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "TAKEDOWN_JOB_MODULES": json.dumps(["tests.jobs.handlers"]),
        "TAKEDOWN_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "TAKEDOWN_WORKER_POLL_SECONDS": "0.1",
        # The test handlers live in the ``tests`` package at the repository root.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }

    def start() -> subprocess.Popen[bytes]:
        process = start_runner(env, tmp_path, f"worker-{len(processes)}.log")
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def started(process: subprocess.Popen[bytes], marker: Path, tmp_path: Path) -> Callable[[], bool]:
    """A predicate for wait_until: the job signalled, or the process died (with its log)."""

    def check() -> bool:
        if process.poll() is not None:
            logs = "\n".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
            raise AssertionError(f"worker exited with {process.returncode}:\n{logs}")
        return marker.exists()

    return check


@pytest.mark.slow
def test_a_killed_workers_job_is_retried_and_completes_once(
    committed_jobs: Database, spawn: Spawn, settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "attempt-1-started"
    with committed_jobs.transaction() as session:
        job_id = enqueue(session, "tests.block", {"marker": str(marker), "label": "once"}).id
    process = spawn()
    # The handler writes its effect, then signals and hangs: the write is in flight when the
    # worker dies, as a notice half-sent would be.
    wait_until(started(process, marker, tmp_path), 60, "the worker process to start the job")

    process.kill()
    process.wait(30)

    job = load(committed_jobs, job_id)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
    assert effects(committed_jobs) == [], "the killed attempt's work was committed"
    rescuer = Worker(
        committed_jobs,
        settings.model_copy(update={"job_lease_seconds": LEASE_SECONDS}),
        worker_id="rescuer",
    )

    def rescued() -> bool:
        rescuer.run_once()
        return load(committed_jobs, job_id).status is JobStatus.SUCCEEDED

    # The rescuer takes the job over once the dead worker's lease has run out.
    wait_until(rescued, 30, "another worker to take the job over")
    job = load(committed_jobs, job_id)
    assert job.attempts == 2
    assert job.locked_by is not None
    assert job.locked_by.startswith("rescuer/")
    assert job.last_error == "attempt 1 lost its lease (its worker stopped or it timed out)"
    assert effects(committed_jobs) == [(str(job_id), "once", 2)]


@pytest.mark.slow
def test_sigterm_lets_the_running_job_finish_then_exits(
    committed_jobs: Database, spawn: Spawn, tmp_path: Path
) -> None:
    marker = tmp_path / "slow-started"
    with committed_jobs.transaction() as session:
        job_id = enqueue(session, "tests.slow", {"marker": str(marker), "seconds": 1.0}).id
    process = spawn()
    wait_until(started(process, marker, tmp_path), 60, "the worker process to start the job")

    process.send_signal(signal.SIGTERM)

    assert process.wait(30) == 0
    job = load(committed_jobs, job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert effects(committed_jobs) == [(str(job_id), "", 1)]


def test_run_worker_returns_when_stopped_and_restores_signal_handlers(settings: Settings) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop = threading.Event()
    stop.set()
    run_worker(settings, stop=stop)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
