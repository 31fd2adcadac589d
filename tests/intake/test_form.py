"""The public report page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.cases.models import Case, Priority
from takedown.db.session import Database
from takedown.intake.models import ContentKind, Report, SiteKind


def test_form_says_the_report_is_anonymous_and_sets_no_cookie(client: TestClient) -> None:
    response = client.get("/report")
    assert response.status_code == 200
    assert "anonymous" in response.text
    assert "IP address" in response.text
    assert "set-cookie" not in response.headers
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"


def test_submitting_the_form_gives_a_reference_and_support_link(
    client: TestClient, database: Database
) -> None:
    response = client.post(
        "/report",
        data={
            "url": "http://forum.example/thread/9",
            "content_kind": "video",
            "site_kind": "forum",
            "immediate_danger": "yes",
            "description": "seen in a thread",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    thanks = client.get(response.headers["location"])
    assert "set-cookie" not in response.headers
    assert "set-cookie" not in thanks.headers
    with database.sessions() as session:
        report = session.scalars(select(Report)).one()
        case = session.scalars(select(Case)).one()
    assert report.reference in thanks.text
    assert client.app.state.takedown.settings.support_url in thanks.text  # type: ignore[attr-defined]
    assert (report.content_kind, report.site_kind) == (ContentKind.VIDEO, SiteKind.FORUM)
    assert report.immediate_danger is True
    assert case.priority == Priority.IMMEDIATE_DANGER


def test_bad_url_redisplays_the_form_escaped_and_stores_nothing(
    client: TestClient, database: Database
) -> None:
    hostile = "<script>alert(1)</script>"
    response = client.post("/report", data={"url": "javascript:alert(1)", "description": hostile})
    assert response.status_code == 400
    assert hostile not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "scheme" in response.text
    with database.sessions() as session:
        assert session.scalars(select(Report)).first() is None


def test_thanks_page_shows_only_well_formed_references(client: TestClient) -> None:
    response = client.get("/report/thanks", params={"reference": "<b>R-1</b>"})
    assert response.status_code == 200
    assert "<b>R-1</b>" not in response.text
    assert "&lt;b&gt;" not in response.text


def test_the_forms_rate_limit_says_when_to_try_again(client: TestClient) -> None:
    limit = client.app.state.takedown.settings.public_rate_limit  # type: ignore[attr-defined]
    answers = [
        client.post("/report", data={"url": f"http://rate.example/{i}"}, follow_redirects=False)
        for i in range(limit + 1)
    ]
    assert [a.status_code for a in answers[:-1]] == [303] * limit
    refused = answers[-1]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "text/html" in refused.headers["content-type"]
