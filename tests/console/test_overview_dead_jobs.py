"""Dead jobs are where supervisors see them: the overview lists them with a retry button."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.audit.models import AuditRecord
from takedown.auth.models import Role
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import Job, JobStatus
from tests.console.support import csrf_of, sign_in
from tests.factories import NOW


def dead_job(database: Database, name: str = "tests.gone", error: str = "boom <b>") -> uuid.UUID:
    with database.transaction() as session:
        job = jobs.enqueue(session, name, {"n": 1}, run_at=NOW)
        job.status = JobStatus.DEAD
        job.attempts = 6
        job.last_error = error
        job.finished_at = NOW - timedelta(minutes=5)
        session.flush()
        return job.id


def audit_actions(database: Database) -> list[str]:
    with database.sessions() as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_a_supervisor_sees_dead_jobs_and_retries_one_from_the_overview(
    client: TestClient, database: Database
) -> None:
    job_id = dead_job(database)
    dead_job(database, "tests.also_gone")
    sign_in(client, database, Role.SUPERVISOR)

    page = client.get("/console/overview")

    assert page.status_code == 200, page.text
    assert 'id="jobs-dead">2 gave up<' in page.text
    assert 'id="dead-jobs"' in page.text
    assert "boom &lt;b&gt;" in page.text  # the error is shown, escaped
    assert 'href="/console/admin/jobs?status=dead"' in page.text
    assert f'action="/console/admin/jobs/{job_id}/retry"' in page.text

    retried = client.post(
        f"/console/admin/jobs/{job_id}/retry",
        data={"csrf_token": csrf_of(page.text), "status": "dead"},
        follow_redirects=False,
    )

    assert retried.status_code == 303
    with database.sessions() as session:
        job = session.get_one(Job, job_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    assert audit_actions(database)[-1] == "job.retry"
    after = client.get("/console/overview")
    assert 'id="jobs-dead">1 gave up<' in after.text


def test_an_analyst_sees_the_count_but_no_job_list(client: TestClient, database: Database) -> None:
    dead_job(database)
    sign_in(client, database, Role.ANALYST)
    page = client.get("/console/overview")
    assert page.status_code == 200
    assert 'id="jobs-dead">1 gave up<' in page.text
    assert 'id="dead-jobs"' not in page.text


def test_the_api_retry_is_the_same_audited_function(client: TestClient, database: Database) -> None:
    job_id = dead_job(database)
    _, csrf = sign_in(client, database, Role.SUPERVISOR)  # a staff session serves the API too
    response = client.post(f"/api/v1/jobs/{job_id}/retry", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "queued"
    assert audit_actions(database)[-1] == "job.retry"
