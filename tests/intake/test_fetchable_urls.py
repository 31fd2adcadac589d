"""Intake refuses every URL the capture job could not fetch: nothing accepted is stranded."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.cases.models import Case
from takedown.db.session import Database
from takedown.intake.models import Report
from takedown.jobs.models import Job
from tests import factories
from tests.factories import bearer

# Each of these answered 201 before, and its capture job died on InvalidURL (issue 12).
UNFETCHABLE = [
    "http://a.example/x\ny",  # LF in the path
    "http://a.exa\rmple/x",  # CR in the host
    "http://a.example/\x00",  # NUL
    "http://a\u200b.example/x",  # a zero-width space in the host
    "http:///path",  # no host as the fetcher reads it
    "http://a%20b.example/",  # a host with a space
    "http://a.example:0/",  # port 0
    "http://evil.example\\@good.example/",  # keyed on one host, fetched from another
    "http://%65xample.com/",  # an escaped host never resolves
    "http://\u2603.example/",  # a name httpx's IDNA codec refuses
    "http://a.example/\u0085",  # a C1 control
]


def stored(database: Database) -> tuple[int, int, int]:
    with database.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Case, Report, Job)
        )


@pytest.mark.parametrize("url", UNFETCHABLE)
def test_an_unfetchable_url_is_refused_and_nothing_is_stored(
    client: TestClient, database: Database, url: str
) -> None:
    response = client.post("/api/v1/reports", json={"url": url})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]
    assert stored(database) == (0, 0, 0)


def test_the_public_form_refuses_an_unfetchable_url(client: TestClient, database: Database) -> None:
    response = client.post("/report", data={"url": "http://a.example:0/"})
    assert response.status_code in (400, 422), response.text
    assert "port" in response.text
    assert stored(database) == (0, 0, 0)


def test_a_bulk_rejects_unfetchable_items_one_by_one(
    client: TestClient, database: Database
) -> None:
    key = factories.api_key(database)
    items = [{"url": url} for url in UNFETCHABLE] + [{"url": "http://fine.example/1"}]
    response = client.post("/api/v1/reports/bulk", json={"reports": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, len(UNFETCHABLE))
    assert all(r["reason"] for r in body["results"][:-1])
    assert stored(database) == (1, 1, 1)


@pytest.mark.parametrize(
    ("submitted", "fetched"),
    [
        ("  http://a.example/x  ", "http://a.example/x"),
        ("example.com/gallery", "http://example.com/gallery"),
        ("//example.com/g", "http://example.com/g"),
        ("http://a.example/my file.jpg", "http://a.example/my file.jpg"),
    ],
)
def test_the_case_keeps_the_url_the_capture_will_fetch(
    client: TestClient, database: Database, submitted: str, fetched: str
) -> None:
    response = client.post("/api/v1/reports", json={"url": submitted})
    assert response.status_code == 201, response.text
    with database.sessions() as session:
        case = session.scalars(select(Case)).one()
        assert case.url == fetched
        report = session.scalars(select(Report)).one()
        assert report.submitted_url == submitted
