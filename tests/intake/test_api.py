"""Report intake through the JSON API: single, bulk, public, keyed, and bad input."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from takedown.audit.models import AuditRecord
from takedown.cases.models import Case, CaseEvent, CaseState, Priority
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake.models import Report, ReporterSource
from takedown.jobs.models import Job
from takedown.orgs import service as orgs
from takedown.orgs.models import ApiKey, OrgKind
from tests import factories
from tests.factories import bearer


def count(database: Database, model: type) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_public_report_opens_a_case_and_stores_nothing_about_the_reporter(
    client: TestClient, database: Database
) -> None:
    response = client.post(
        "/api/v1/reports",
        json={"url": "HTTP://Example.COM/a/../gallery/1.jpg#x", "content_kind": "image"},
        headers={"User-Agent": "Reporter-Browser/1.0", "X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["case_created"] is True
    assert body["reference"].startswith("R-")
    assert "set-cookie" not in response.headers
    with database.sessions() as session:
        report = session.get_one(Report, UUID(body["report_id"]))
        case = session.get_one(Case, UUID(body["case_id"]))
        assert report.source == ReporterSource.PUBLIC
        assert report.org_id is None
        assert report.api_key_id is None
        # Nothing the client sent about itself is anywhere in the row.
        values = [str(getattr(report, c.key)) for c in inspect(Report).columns]
        assert not any("203.0.113.9" in v or "Reporter-Browser" in v for v in values)
        assert case.canonical_url == "http://example.com/gallery/1.jpg"
        assert case.priority == Priority.PUBLIC
        assert case.state == CaseState.NEW


def test_same_url_reported_many_times_is_one_case(client: TestClient, database: Database) -> None:
    variants = ["http://example.com/x.jpg", "example.com/x.jpg", "http://EXAMPLE.com//x.jpg#f"]
    case_ids = {client.post("/api/v1/reports", json={"url": u}).json()["case_id"] for u in variants}
    assert len(case_ids) == 1
    with database.sessions() as session:
        case = session.get_one(Case, UUID(case_ids.pop()))
        assert case.report_count == 3
        reports = session.scalars(select(Report).where(Report.case_id == case.id)).all()
        assert len(reports) == 3


def test_keyed_report_carries_its_organization_and_priority(
    client: TestClient, database: Database, settings: Settings
) -> None:
    key = factories.api_key(database, "Police unit", OrgKind.POLICE)
    response = client.post(
        "/api/v1/reports", json={"url": "http://example.org/p"}, headers=bearer(key)
    )
    assert response.status_code == 201
    with database.sessions() as session:
        case = session.get_one(Case, UUID(response.json()["case_id"]))
        report = session.scalars(select(Report).where(Report.case_id == case.id)).one()
        assert report.source == ReporterSource.POLICE
        assert report.org_id is not None
        assert case.priority == Priority.POLICE
        assert case.due_at - case.first_reported_at == settings.deadline_police


def test_immediate_danger_is_most_urgent_with_a_one_hour_deadline(
    client: TestClient, database: Database
) -> None:
    first = client.post("/api/v1/reports", json={"url": "http://example.net/a"}).json()
    again = client.post(
        "/api/v1/reports", json={"url": "http://example.net/a", "immediate_danger": True}
    ).json()
    assert again["case_id"] == first["case_id"]
    assert again["case_created"] is False
    with database.sessions() as session:
        case = session.get_one(Case, UUID(first["case_id"]))
        assert case.priority == Priority.IMMEDIATE_DANGER
        assert case.due_at - case.first_reported_at == timedelta(hours=1)
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
        assert "priority_raised" in kinds


def test_bulk_stores_good_items_and_reports_bad_ones_item_by_item(
    client: TestClient, database: Database
) -> None:
    key = factories.api_key(database)
    existing = client.post("/api/v1/reports", json={"url": "http://old.example/1"}).json()
    items = [
        {"url": "http://new.example/1", "external_id": "a"},
        {"url": "javascript:alert(1)", "external_id": "b"},
        {"url": "http://old.example/1"},
        {"url": "http://new.example/1"},
        {"url": "http://new.example/2", "colour": "red"},
        {"url": "ftp://files.example/x"},
    ]
    response = client.post("/api/v1/reports/bulk", json={"reports": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "rejected", "duplicate", "duplicate", "rejected", "rejected"]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 2, 3)
    results = body["results"]
    assert results[0]["external_id"] == "a"
    assert results[1]["external_id"] == "b"
    assert "scheme" in results[1]["reason"]
    assert "colour" in results[4]["reason"]
    assert results[2]["case_id"] == existing["case_id"]
    assert results[3]["case_id"] == results[0]["case_id"]
    assert count(database, Report) == 4
    assert count(database, Case) == 2
    # Every new case, and only a new case, is queued for capture in the same transaction.
    with database.sessions() as session:
        names = session.scalars(select(Job.name)).all()
    assert names == ["cases.capture", "cases.capture"]


def test_bulk_needs_a_key(client: TestClient) -> None:
    response = client.post("/api/v1/reports/bulk", json={"reports": [{"url": "http://a.example/"}]})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_bulk_over_the_limit_is_refused_whole(client: TestClient, database: Database) -> None:
    key = factories.api_key(database)
    limit = client.app.state.takedown.settings.bulk_max_items  # type: ignore[attr-defined]
    items = [{"url": f"http://e.example/{i}"} for i in range(limit + 1)]
    response = client.post("/api/v1/reports/bulk", json={"reports": items}, headers=bearer(key))
    assert response.status_code == 413
    assert count(database, Report) == 0


def test_bad_input_changes_nothing(client: TestClient, database: Database) -> None:
    cases = [
        ({"json": {"url": "mailto:a@example.com"}}, 400, "scheme"),
        ({"json": {"url": "http://a.example/", "extra": 1}}, 422, "extra"),
        ({"json": {}}, 422, "url"),
        (
            {"content": b"url=http://a.example/", "headers": {"Content-Type": "text/plain"}},
            415,
            "json",
        ),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422, ""),
    ]
    for kwargs, status, word in cases:
        response = client.post("/api/v1/reports", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, (kwargs, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert word in response.json()["detail"].lower()
    assert count(database, Report) == 0
    assert count(database, Case) == 0
    assert count(database, AuditRecord) == 0


def test_invalid_and_revoked_keys_are_refused(client: TestClient, database: Database) -> None:
    response = client.post(
        "/api/v1/reports", json={"url": "http://a.example/"}, headers=bearer("td_nope")
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    key = factories.api_key(database)
    with database.transaction() as session:
        row = session.scalars(select(ApiKey)).one()
        orgs.revoke_key(session, factories.ACTOR, row.id, now=factories.NOW)
    response = client.post(
        "/api/v1/reports", json={"url": "http://a.example/"}, headers=bearer(key)
    )
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert count(database, Report) == 0


def test_oversize_body_is_refused(client: TestClient, database: Database) -> None:
    limit = client.app.state.takedown.settings.max_body_bytes  # type: ignore[attr-defined]
    body = b'{"url": "http://a.example/", "description": "' + b"x" * limit + b'"}'
    response = client.post(
        "/api/v1/reports", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert count(database, Report) == 0


def test_public_reports_are_rate_limited_per_client(client: TestClient, settings: Settings) -> None:
    statuses = [
        client.post("/api/v1/reports", json={"url": f"http://r.example/{i}"}).status_code
        for i in range(settings.public_rate_limit + 1)
    ]
    assert statuses[:-1] == [201] * settings.public_rate_limit
    assert statuses[-1] == 429


def test_report_text_is_stored_exactly_as_given(client: TestClient, database: Database) -> None:
    text = "<script>alert('x')</script> & ünïcode\n"
    response = client.post(
        "/api/v1/reports", json={"url": "http://t.example/", "description": text}
    )
    with database.sessions() as session:
        report = session.get_one(Report, UUID(response.json()["report_id"]))
        assert report.description == text


def test_intake_is_audited(client: TestClient, db: Session, database: Database) -> None:
    client.post("/api/v1/reports", json={"url": "http://audit.example/"})
    with database.sessions() as session:
        actions = session.scalars(select(AuditRecord.action)).all()
    assert actions == ["report.submit"]
