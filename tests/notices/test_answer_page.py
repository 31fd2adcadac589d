"""The public answer page a notice links to: no account, the link's token is the credential.

Organizations are fictional and URLs are example URLs (RFC 2606); the "media" are hashes of
short ASCII strings. Nothing is fetched and no image is ever shown.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.app import create_app
from takedown.audit.models import AuditRecord
from takedown.cases.models import Case, CaseEvent
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job
from takedown.monitoring.schedule import RECHECK_JOB
from takedown.notices import service as notices
from takedown.notices.models import AnswerKind
from tests.factories import NOW
from tests.notices.support import ITEM_SHA256, events_of, saved_answers, sent_notice

HOSTILE = "<script>alert(1)</script>"


@dataclass(frozen=True)
class Link:
    case_id: uuid.UUID
    notice_id: uuid.UUID
    reference: str
    path: str


def sent(
    database: Database,
    settings: Settings,
    url: str = "http://files.example/a/1",
    name: str = "Example Hosting",
) -> Link:
    """A sent notice to ``name`` about ``url`` with one known item; returns its link's path."""
    with database.transaction() as session:
        notice = sent_notice(session, settings, url=url, name=name, classification="B2")
        token = notices.notice_token(settings, notice.id)
        return Link(notice.case_id, notice.id, notice.reference, f"/notices/answer/{token}")


def test_the_page_shows_the_notice_and_never_links_or_loads_the_content(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    response = client.get(link.path)
    assert response.status_code == 200, response.text
    page = response.text
    assert link.reference in page
    assert "<code>http://files.example/a/1</code>" in page
    assert ITEM_SHA256 in page
    assert "B2" in page
    assert "2026-11-23 09:00 UTC" in page  # the deadline, 24 hours after sending
    assert 'href="http://files.example' not in page
    assert "<img" not in page
    for kind in AnswerKind:
        assert f'value="{kind.value}"' in page
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers


def test_a_hostile_url_is_shown_escaped(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings, url=f"http://files.example/?q={HOSTILE}")
    page = client.get(link.path).text
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("acknowledged", ""),
        ("removed", ""),
        ("cannot_act", "The server belongs to a customer we cannot reach."),
        ("dispute", "We are not the host of this address."),
    ],
)
def test_each_answer_by_link_goes_on_the_timeline_and_the_audit_log(
    client: TestClient, database: Database, settings: Settings, kind: str, reason: str
) -> None:
    link = sent(database, settings)
    response = client.post(link.path, data={"kind": kind, "reason": reason}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{link.path}/thanks"
    assert response.headers["cache-control"] == "no-store"
    thanks = client.get(response.headers["location"])
    assert thanks.status_code == 200
    assert AnswerKind(kind).label in thanks.text
    assert thanks.headers["cache-control"] == "no-store"
    [answer] = saved_answers(database, link.notice_id)
    assert (answer.kind.value, answer.reason, answer.via) == (kind, reason, "link")
    with database.sessions() as session:
        [event] = events_of(session, link.case_id, "notice_answered")
        audit = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "notice.answer")
        ).one()
    assert event.message == f"Example Hosting answered {link.reference}: {kind.replace('_', ' ')}"
    assert audit.actor_label == "Example Hosting (answer link)"
    # The answer is listed on the page from now on.
    assert "Your earlier answers" in client.get(link.path).text


def test_removed_by_link_schedules_an_immediate_recheck(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    link = sent(database, settings)
    client.post(link.path, data={"kind": "removed"}, follow_redirects=False)
    with database.sessions() as session:
        case = session.get_one(Case, link.case_id)
        jobs = session.scalars(select(Job).where(Job.name == RECHECK_JOB)).all()
    assert case.removed_at is None
    assert [j.run_at for j in jobs] == [clock.now()]


def test_cannot_act_without_a_reason_shows_the_error_beside_the_field(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    response = client.post(link.path, data={"kind": "cannot_act", "reason": ""})
    assert response.status_code == 422
    assert 'id="reason-error"' in response.text
    assert re.search(r'value="cannot_act" required\s+checked', response.text)  # kept
    assert response.headers["cache-control"] == "no-store"
    assert saved_answers(database, link.notice_id) == []


def test_no_choice_or_an_unknown_one_is_a_form_error(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    for data in ({"reason": "hello"}, {"kind": "deleted"}):
        response = client.post(link.path, data=data)
        assert response.status_code == 422
        assert 'id="kind-error"' in response.text
    assert saved_answers(database, link.notice_id) == []


def test_a_reason_is_redisplayed_escaped(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    response = client.post(link.path, data={"kind": "", "reason": HOSTILE})
    assert response.status_code == 422
    assert HOSTILE not in response.text
    assert "&lt;script&gt;" in response.text


def test_an_expired_link_is_404_and_answers_nothing(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    link = sent(database, settings)
    clock.advance(settings.notice_token_ttl)
    response = client.get(link.path)
    assert response.status_code == 404
    assert "unknown or has expired" in response.text
    assert link.reference not in response.text
    assert response.headers["cache-control"] == "no-store"
    posted = client.post(link.path, data={"kind": "removed"})
    assert posted.status_code == 404
    assert saved_answers(database, link.notice_id) == []


@pytest.mark.parametrize(
    "token", ["A" * 43, "not-a-token", "%3Cscript%3E", "x" * 300, f"{'A' * 42}%00"]
)
def test_unknown_links_get_the_same_page(client: TestClient, token: str) -> None:
    response = client.get(f"/notices/answer/{token}")
    assert response.status_code == 404
    assert "unknown or has expired" in response.text
    assert "<script>" not in response.text


def test_a_link_answers_only_its_own_notice(
    client: TestClient, database: Database, settings: Settings
) -> None:
    mine = sent(database, settings, url="http://files.example/mine")
    other = sent(database, settings, url="http://files.example/other", name="Other Hosting")
    response = client.post(other.path, data={"kind": "removed"}, follow_redirects=False)
    assert response.status_code == 303
    assert saved_answers(database, mine.notice_id) == []
    assert [a.kind for a in saved_answers(database, other.notice_id)] == [AnswerKind.REMOVED]
    # The thank-you page of a link shows its own notice only.
    assert mine.reference not in client.get(f"{other.path}/thanks").text


def test_a_double_submission_records_one_answer(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    data = {"kind": "dispute", "reason": "Not hosted here."}
    for _ in range(2):
        assert client.post(link.path, data=data, follow_redirects=False).status_code == 303
    assert len(saved_answers(database, link.notice_id)) == 1
    with database.sessions() as session:
        events = session.scalars(select(CaseEvent).where(CaseEvent.kind == "notice_answered")).all()
    assert len(events) == 1


def test_the_link_is_rate_limited_like_the_report_form(
    settings: Settings, database: Database, clock: FrozenClock
) -> None:
    limited = settings.model_copy(update={"public_rate_limit": 2})
    app = create_app(limited, database=database, clock=clock)
    link = sent(database, settings)
    with TestClient(app) as client:
        assert client.get(link.path).status_code == 200
        assert client.get(link.path).status_code == 200
        response = client.post(link.path, data={"kind": "dispute", "reason": "kept"})
    assert response.status_code == 429
    assert "kept" in response.text  # what was typed is not lost
    assert saved_answers(database, link.notice_id) == []


def test_a_notice_of_a_closed_case_can_still_be_answered(
    client: TestClient, database: Database, settings: Settings
) -> None:
    link = sent(database, settings)
    with database.transaction() as session:
        case = session.get_one(Case, link.case_id)
        case.removed_at = case.closed_at = NOW + timedelta(hours=1)
    response = client.post(link.path, data={"kind": "removed"}, follow_redirects=False)
    assert response.status_code == 303
    assert len(saved_answers(database, link.notice_id)) == 1
