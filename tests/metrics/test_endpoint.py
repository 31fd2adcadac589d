"""GET /metrics: off without a token, refused without the token, merged text format with it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from takedown import metrics
from takedown.auth.principal import PUBLIC
from takedown.clock import FrozenClock
from takedown.config import Settings, load_settings
from takedown.db.session import Database
from takedown.errors import ConfigurationError
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.jobs.models import JobStatus
from takedown.jobs.service import enqueue
from takedown.web.admission import AdmissionMiddleware, Gate
from takedown.web.metrics import exposition
from tests.metrics.conftest import AUTH, TOKEN, sample


def test_without_a_configured_token_there_is_no_endpoint(client: TestClient) -> None:
    assert client.get("/metrics", headers=AUTH).status_code == 404
    assert metrics.directory() is None


def test_a_request_without_the_token_is_refused(metrics_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = metrics_client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert "takedown_" not in response.text


def test_metrics_are_not_in_the_openapi_document(metrics_client: TestClient) -> None:
    assert "/metrics" not in metrics_client.get("/openapi.json").json()["paths"]


def test_requests_are_counted_by_route_template(metrics_client: TestClient) -> None:
    case_id = uuid.uuid4()
    metrics_client.get(f"/api/v1/cases/{case_id}")
    metrics_client.get("/no/such/page/http://example.com/x")
    body = metrics_client.get("/metrics", headers=AUTH).text
    route = "/api/v1/cases/{case_id}"
    assert sample(body, "takedown_http_requests_total", method="GET", route=route, status="401")
    assert sample(
        body, "takedown_http_requests_total", method="GET", route="<unmatched>", status="404"
    )
    # No raw path in any label: neither the case id nor the URL in the unknown path.
    assert str(case_id) not in body
    assert "example.com" not in body
    count = "takedown_http_request_duration_seconds_count"
    assert sample(body, count, method="GET", route=route) == 1


def test_state_gauges(
    metrics_client: TestClient,
    database: Database,
    metrics_settings: Settings,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    with database.transaction() as session:
        dead = enqueue(session, "tests.gauge", {})
        dead.status = JobStatus.DEAD
        enqueue(session, "tests.gauge", {})
        for n in range(2):
            intake.submit_one(
                session,
                metrics_settings,
                PUBLIC,
                ReportIn(url=f"http://gauges.example/{n}.html"),
                now=now - timedelta(days=2),
            )
    body = metrics_client.get("/metrics", headers=AUTH).text
    assert sample(body, "takedown_state_up") == 1
    assert sample(body, "takedown_jobs", kind="tests.gauge", status="dead") == 1
    assert sample(body, "takedown_jobs", kind="tests.gauge", status="queued") == 1
    assert sample(body, "takedown_jobs", kind="tests.gauge", status="running") == 0
    assert sample(body, "takedown_cases_awaiting_assessment") == 2
    # Reported two days ago with a one-day deadline: both are late.
    assert sample(body, "takedown_cases_past_assessment_deadline") == 2
    assert sample(body, "takedown_rechecks_due") == 0


def test_metrics_answer_while_the_gate_sheds_requests(
    metrics_app: FastAPI, metrics_settings: Settings
) -> None:
    """With every slot taken, /metrics still answers and the shed request is counted."""

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = Gate(1)
    middleware = AdmissionMiddleware(inner, gate=gate, wait_seconds=0)

    async def call(path: str) -> int:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "headers": []}
        await middleware(scope, receive, send)
        return int(sent[0]["status"])

    async def scenario() -> tuple[int, int]:
        assert await gate.acquire(0)
        return await call("/api/v1/cases"), await call("/metrics")

    assert asyncio.run(scenario()) == (503, 200)
    body = exposition(metrics.directory(), []).decode()
    assert sample(body, "takedown_http_shed_requests_total") == 1


def test_a_short_metrics_token_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="metrics token"):
        load_settings(metrics_token="short")
