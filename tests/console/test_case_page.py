"""The console's case page: what it shows, to whom, and that outside text stays text."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.config import Settings
from takedown.db.session import Database
from takedown.lists.models import EntryScope, EntryStatus, UrlEntry
from takedown.notices.models import (
    AnswerKind,
    Notice,
    NoticeAnswer,
    NoticeChannel,
    NoticeKind,
    NoticeStatus,
)
from takedown.police.models import Hold
from takedown.routing.models import Route, RouteKind, RouteStep, StepAction, StepStatus
from takedown.sandbox.images import sample_image
from takedown.tracing.models import Trace, TraceStatus
from takedown.web.deps import SESSION_COOKIE
from tests.console.support import sign_in
from tests.console.test_previews import (
    IMAGE,
    add_item,
    connections,  # noqa: F401 - the loopback tripwire, autouse
    make_case,
    settings,  # noqa: F401 - fixture: the fetcher may reach the local host
    site,  # noqa: F401 - fixture
)
from tests.factories import NOW
from tests.monitoring.support import Site

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def working_notes(database: Database, case_id: uuid.UUID) -> None:
    """A trace, a route with a step, a notice with an answer, a list entry and a hold."""
    with database.transaction() as session:
        trace = Trace(
            case_id=case_id,
            host="example.com",
            status=TraceStatus.COMPLETE,
            traced_at=NOW,
            countries="NL",
            summary="example.com: 192.0.2.1 (NL, AS64500, Example Hosting)",
            data={},
            evidence=[],
        )
        session.add(trace)
        session.flush()
        route = Route(
            case_id=case_id,
            trace_id=trace.id,
            kind=RouteKind.HOME,
            decided_at=NOW,
            explanation="Home route: notice to Example Hosting.\nHosted in NL by Example Hosting.",
            data={},
        )
        session.add(route)
        session.flush()
        session.add(
            RouteStep(
                route_id=route.id,
                case_id=case_id,
                seq=1,
                action=StepAction.NOTICE,
                status=StepStatus.DONE,
                org_name="Example Hosting",
                country="NL",
                reason="hosted here",
                data={},
                updated_at=NOW,
            )
        )
        notice = Notice(
            reference="N-AAAAA-BBBBB",
            case_id=case_id,
            org_name="Example Hosting",
            kind=NoticeKind.NOTICE,
            channel=NoticeChannel.EMAIL,
            recipient="abuse@hosting.example",
            language="en",
            status=NoticeStatus.SENT,
            created_at=NOW,
            deadline_at=NOW + timedelta(hours=24),
            sent_at=NOW,
            message_id="<n1@takedown.example>",
            document=[],
        )
        session.add(notice)
        session.flush()
        session.add(
            NoticeAnswer(
                notice_id=notice.id,
                case_id=case_id,
                kind=AnswerKind.DISPUTE,
                reason=SCRIPT,
                via="link",
                actor="link",
                at=NOW,
            )
        )
        session.add(
            UrlEntry(
                expression="example.com/gallery/1",
                live_key="k" * 64,
                host="example.com",
                scope=EntryScope.URL,
                status=EntryStatus.ACTIVE,
                case_id=case_id,
                added_by="ana",
                added_at=NOW,
            )
        )
        session.add(
            Hold(
                case_id=case_id,
                reason="Operation Bluebird",
                until=NOW + timedelta(days=3),
                preserve_evidence=True,
                created_by="police-officer",
                created_at=NOW,
            )
        )


@pytest.fixture
def case_id(database: Database, settings: Settings, site: Site) -> uuid.UUID:  # noqa: F811
    """A case with two hostile report texts, one unknown and one known item, working notes."""
    found = make_case(database, settings, descriptions=(SCRIPT, IMG))
    add_item(database, found, site.serve("/img/u.png", IMAGE, "image/png"), IMAGE)
    known = sample_image(5)
    add_item(database, found, site.serve("/img/k.png", known, "image/png"), known, known=True)
    working_notes(database, found)
    return found


def test_report_text_is_escaped(client: TestClient, database: Database, case_id: uuid.UUID) -> None:
    sign_in(client, database, Role.ANALYST)
    response = client.get(f"/console/cases/{case_id}")
    assert response.status_code == 200, response.text
    html = response.text
    assert SCRIPT not in html
    assert IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # Shown as preformatted text, one block per report.
    assert html.count('<pre class="pre">&lt;') >= 2


def test_page_shows_the_case_and_its_working_notes(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    sign_in(client, database, Role.ANALYST)
    html = client.get(f"/console/cases/{case_id}").text
    assert "http://example.com/gallery/1" in html
    assert 'href="http://example.com' not in html  # the URL is text, never a link
    for expected in (
        "Public",  # priority
        "2 reports",
        "Case opened",  # timeline
        "example.com: 192.0.2.1 (NL, AS64500, Example Hosting)",  # trace summary
        "Home route: notice to Example Hosting.",  # route explanation
        "N-AAAAA-BBBBB",
        "abuse@hosting.example",
        "Dispute",
        "example.com/gallery/1",  # list entry
        "Operation Bluebird",
        "in force",
    ):
        assert expected in html, expected
    # The answer's reason came from outside, too.
    assert SCRIPT not in html


def test_known_items_show_bank_distance_and_classification_only(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    sign_in(client, database, Role.ANALYST)
    html = client.get(f"/console/cases/{case_id}").text
    start = html.index(">Known item")
    known_panel = html[start : html.index("</article>", start)]
    assert "test-known" in known_panel
    assert "<td>4 (pdq)</td>" in known_panel
    assert "A1" in known_panel
    assert "<img" not in known_panel
    assert "/preview" not in known_panel
    assert "Reveal" not in known_panel
    # The unknown item has its blurred preview and a reveal button.
    assert html.count('src="/console/items/') == 1
    assert ">Reveal</button>" in html


def test_no_inline_styles_or_scripts(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    sign_in(client, database, Role.ANALYST)
    for path in (f"/console/cases/{case_id}", "/console/exposure", "/console/preferences"):
        html = client.get(path).text
        assert "style=" not in html, path
        assert "<style" not in html, path
        assert "<script>" not in html, path
        assert "onclick" not in html, path


def test_police_read_the_case_with_its_holds_but_see_no_images(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    sign_in(client, database, Role.POLICE)
    response = client.get(f"/console/cases/{case_id}")
    assert response.status_code == 200
    assert "Operation Bluebird" in response.text
    assert "/preview" not in response.text
    assert "<img" not in response.text
    assert 'id="assessment-heading"' not in response.text


def test_unknown_case_is_a_404_page(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.ANALYST)
    response = client.get(f"/console/cases/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "no case" in response.text


def test_signed_out_is_sent_to_sign_in(client: TestClient, case_id: uuid.UUID) -> None:
    client.cookies.delete(SESSION_COOKIE)
    response = client.get(f"/console/cases/{case_id}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
