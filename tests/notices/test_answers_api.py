"""Answering notices over the API (organizations' keys) and following them (staff).

Organizations are fictional and URLs are example URLs (RFC 2606); nothing is fetched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.audit.models import AuditRecord
from takedown.auth.models import Role
from takedown.cases.models import Case, CaseEvent
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job
from takedown.monitoring.schedule import RECHECK_JOB
from takedown.notices.models import AnswerKind, NoticeStatus
from takedown.orgs import service as orgs
from takedown.orgs.models import Organization
from tests.factories import ACTOR, NOW, bearer, login
from tests.notices.support import events_of, mark_sent, new_notice, saved_answers

ANSWER = ("notices:answer",)


@dataclass(frozen=True)
class Sent:
    case_id: uuid.UUID
    notice_id: uuid.UUID
    reference: str
    key: str


def sent(
    database: Database,
    settings: Settings,
    *,
    name: str = "Example Hosting",
    scopes: tuple[str, ...] = ANSWER,
    status: NoticeStatus = NoticeStatus.SENT,
) -> Sent:
    """A notice to ``name`` (with a key of ``scopes``) about a new case, sent at NOW."""
    with database.transaction() as session:
        notice = new_notice(
            session, settings, url=f"http://files.example/{uuid.uuid4().hex}", name=name
        )
        if status is NoticeStatus.SENT:
            mark_sent(notice)
        else:
            notice.status = status
        org = session.get_one(Organization, notice.org_id)
        key, _ = orgs.create_key(session, ACTOR, org, scopes=scopes, now=NOW)
        return Sent(notice.case_id, notice.id, notice.reference, key)


def test_an_organization_reads_its_notice(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings)
    response = client.get(f"/api/v1/notices/{notice.reference}", headers=bearer(notice.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reference"] == notice.reference
    assert body["urls"][0].startswith("http://files.example/")
    assert body["asks_removal"] is True
    assert body["answer"] is None
    assert body["answers"] == []
    assert "actor" not in response.text


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("acknowledged", ""),
        ("removed", ""),
        ("cannot_act", "The account belongs to a reseller."),
        ("dispute", "We do not host this address."),
    ],
)
def test_each_answer_by_api_goes_on_the_timeline_and_the_audit_log(
    client: TestClient, database: Database, settings: Settings, kind: str, reason: str
) -> None:
    notice = sent(database, settings)
    response = client.post(
        f"/api/v1/notices/{notice.reference}/answer",
        json={"kind": kind, "reason": reason},
        headers=bearer(notice.key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["answer"] == kind
    assert response.json()["answers"][0]["via"] == "api"
    with database.sessions() as session:
        [event] = events_of(session, notice.case_id, "notice_answered")
        audit = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "notice.answer")
        ).one()
    assert event.message.endswith(f"{notice.reference}: {AnswerKind(kind).label.lower()}")
    assert event.actor.startswith("Example Hosting")
    assert (audit.actor_type, audit.object_id) == ("api_key", str(notice.notice_id))


def test_removed_schedules_an_immediate_recheck_and_the_case_is_not_removed_yet(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    notice = sent(database, settings)
    response = client.post(
        f"/api/v1/notices/{notice.reference}/answer",
        json={"kind": "removed"},
        headers=bearer(notice.key),
    )
    assert response.status_code == 200, response.text
    with database.sessions() as session:
        case = session.get_one(Case, notice.case_id)
        jobs = session.scalars(select(Job).where(Job.name == RECHECK_JOB)).all()
    assert case.removed_at is None
    assert [(j.payload["case_id"], j.run_at) for j in jobs] == [(str(case.id), clock.now())]


def test_cannot_act_without_a_reason_is_422_and_saves_nothing(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings)
    response = client.post(
        f"/api/v1/notices/{notice.reference}/answer",
        json={"kind": "cannot_act", "reason": "  "},
        headers=bearer(notice.key),
    )
    assert response.status_code == 422
    assert "reason" in response.json()["detail"]
    assert saved_answers(database, notice.notice_id) == []


def test_an_unknown_kind_or_too_long_reason_is_422(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings)
    url = f"/api/v1/notices/{notice.reference}/answer"
    for body in ({"kind": "deleted"}, {"kind": "dispute", "reason": "x" * 5001}):
        response = client.post(url, json=body, headers=bearer(notice.key))
        assert response.status_code == 422, body
    assert saved_answers(database, notice.notice_id) == []


def test_another_organizations_key_gets_404_as_for_an_unknown_reference(
    client: TestClient, database: Database, settings: Settings
) -> None:
    mine = sent(database, settings)
    other = sent(database, settings, name="Other Hosting")
    for path in (f"/api/v1/notices/{mine.reference}", "/api/v1/notices/N-00000-00000"):
        assert client.get(path, headers=bearer(other.key)).status_code == 404
    response = client.post(
        f"/api/v1/notices/{mine.reference}/answer",
        json={"kind": "dispute", "reason": "not ours"},
        headers=bearer(other.key),
    )
    assert response.status_code == 404
    assert saved_answers(database, mine.notice_id) == []


def test_a_key_without_the_scope_gets_403(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings, scopes=("reports:write", "cases:read"))
    response = client.post(
        f"/api/v1/notices/{notice.reference}/answer",
        json={"kind": "acknowledged"},
        headers=bearer(notice.key),
    )
    assert response.status_code == 403
    assert client.get(f"/api/v1/notices/{notice.reference}").status_code == 401


def test_a_notice_that_never_left_is_not_found(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings, status=NoticeStatus.HELD)
    response = client.get(f"/api/v1/notices/{notice.reference}", headers=bearer(notice.key))
    assert response.status_code == 404


def test_staff_list_a_cases_notices_with_their_answers(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings)
    client.post(
        f"/api/v1/notices/{notice.reference}/answer",
        json={"kind": "acknowledged"},
        headers=bearer(notice.key),
    )
    headers = login(client, database, Role.ANALYST)
    response = client.get(f"/api/v1/cases/{notice.case_id}/notices", headers=headers)
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert item["reference"] == notice.reference
    assert (item["status"], item["channel"], item["attempts"]) == ("sent", "email", 1)
    assert item["org_name"] == "Example Hosting"
    assert item["answers"][0]["kind"] == "acknowledged"
    assert item["answers"][0]["actor"].startswith("Example Hosting")
    missing = client.get(f"/api/v1/cases/{uuid.uuid4()}/notices", headers=headers)
    assert missing.status_code == 404


def test_an_organizations_key_cannot_list_a_cases_notices(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings, scopes=("cases:read", "notices:answer"))
    response = client.get(f"/api/v1/cases/{notice.case_id}/notices", headers=bearer(notice.key))
    assert response.status_code == 404


def test_staff_record_an_answer_that_came_by_phone(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings)
    headers = login(client, database, Role.ANALYST)
    response = client.post(
        f"/api/v1/notices/{notice.reference}/answers",
        json={"kind": "removed", "reason": "Their abuse desk called at 10:05."},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert (response.json()["via"], response.json()["actor"]) == ("staff", "u-analyst")
    with database.sessions() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "notice_answered")).one()
    assert "recorded by u-analyst" in event.message
    # Staff answer through /answers, not the organizations' endpoint.
    own = client.get(f"/api/v1/notices/{notice.reference}", headers=headers)
    assert own.status_code == 403


def test_police_cannot_record_answers(
    client: TestClient, database: Database, settings: Settings
) -> None:
    notice = sent(database, settings)
    headers = login(client, database, Role.POLICE)
    response = client.post(
        f"/api/v1/notices/{notice.reference}/answers",
        json={"kind": "removed"},
        headers=headers,
    )
    assert response.status_code == 403
