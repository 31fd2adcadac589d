"""The police API: the queue, clearing, holds; who may do what; bad input changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.config import Settings
from takedown.db.session import Database
from takedown.notices.models import NoticeStatus
from takedown.police import service
from takedown.routing.models import RouteStep, StepStatus
from tests import factories
from tests.factories import NOW, bearer, login

from .support import Routed, notices_of, police_case

QUEUE = "/api/v1/police/queue"
UNTIL = (NOW + timedelta(days=2)).isoformat()
HOLD = {"until": UNTIL, "reason": "Investigation 2026-042 under way", "preserve_evidence": True}


def routed(database: Database, settings: Settings, **kw: Any) -> Routed:
    with database.transaction() as session:
        return police_case(session, settings, **kw)


def clear_url(case_id: object) -> str:
    return f"/api/v1/cases/{case_id}/police/clear"


def holds_url(case_id: object) -> str:
    return f"/api/v1/cases/{case_id}/holds"


def police_step_status(database: Database, case: Routed) -> StepStatus:
    with database.transaction() as session:
        return session.get_one(RouteStep, case.police.id).status


def test_the_queue_is_for_police(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    assert client.get(QUEUE).status_code == 401

    login(client, database, Role.ANALYST)
    refused = client.get(QUEUE)
    assert refused.status_code == 403
    assert "police:act" in refused.json()["detail"]

    login(client, database, Role.POLICE)
    response = client.get(QUEUE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["case_id"] == str(case.case.id)
    assert (item["url"], item["host"]) == ("http://host.example/a.jpg", "host.example")
    assert (item["police_org"], item["on_timeout"], item["hold"]) == (
        "Example Police NL",
        "proceed",
        None,
    )
    assert item["waiting_since"].startswith("2026-11-22T09:00:00")
    assert item["until"].startswith("2026-11-22T10:00:00")
    assert "police first" in item["explanation"]


def test_police_clear_a_case_and_the_notice_starts(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    url = clear_url(case.case.id)
    assert client.post(url, json={}).status_code == 401
    csrf = login(client, database, Role.ANALYST)
    assert client.post(url, json={}, headers=csrf).status_code == 403

    csrf = login(client, database, Role.POLICE)
    response = client.post(url, json={"note": "no objection"}, headers=csrf)

    assert response.status_code == 200, response.text
    [started] = response.json()["started"]
    assert (started["action"], started["status"]) == ("notice", "in_progress")
    with database.transaction() as session:
        [notice] = notices_of(session, case.case.id)
        assert notice.status is NoticeStatus.QUEUED
    again = client.post(url, json={}, headers=csrf)
    assert again.status_code == 409
    assert "not waiting for police" in again.json()["detail"]
    assert client.get(QUEUE).json()["items"] == []


def test_clearing_refuses_bad_input_and_unknown_cases(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    csrf = login(client, database, Role.POLICE)

    unknown = client.post(clear_url(case.case.id), json={"notes": "typo"}, headers=csrf)
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert police_step_status(database, case) is StepStatus.IN_PROGRESS
    missing = client.post(clear_url(uuid.uuid4()), json={}, headers=csrf)
    assert missing.status_code == 404


def test_police_hold_and_release_a_case(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    csrf = login(client, database, Role.POLICE)

    created = client.post(holds_url(case.case.id), json=HOLD, headers=csrf)

    assert created.status_code == 201, created.text
    hold = created.json()
    assert (hold["reason"], hold["preserve_evidence"], hold["active"]) == (
        HOLD["reason"],
        True,
        True,
    )
    assert hold["created_by"] == "u-police"
    [item] = client.get(QUEUE).json()["items"]
    assert item["hold"]["id"] == hold["id"]
    held = client.post(clear_url(case.case.id), json={}, headers=csrf)
    assert held.status_code == 409
    assert "release hold" in held.json()["detail"]

    release = f"/api/v1/holds/{hold['id']}/release"
    released = client.post(release, json={"note": "arrests made"}, headers=csrf)

    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["active"], body["released_by"], body["release_note"]) == (
        False,
        "u-police",
        "arrests made",
    )
    assert police_step_status(database, case) is StepStatus.DONE
    with database.transaction() as session:
        assert len(notices_of(session, case.case.id)) == 1
    assert client.post(release, json={}, headers=csrf).status_code == 409
    listed = client.get(holds_url(case.case.id)).json()["items"]
    assert [h["id"] for h in listed] == [hold["id"]]


@pytest.mark.parametrize(
    "body",
    [
        HOLD | {"until": (NOW - timedelta(hours=1)).isoformat()},
        HOLD | {"until": (NOW + timedelta(days=400)).isoformat()},
        HOLD | {"until": "2026-12-01T09:00:00"},  # no timezone
        HOLD | {"until": "next week"},
        {k: v for k, v in HOLD.items() if k != "reason"},
        HOLD | {"reason": ""},
        HOLD | {"reason": "  "},
        HOLD | {"extend": True},
    ],
    ids=["past", "too-far", "naive", "garbage", "no-reason", "empty", "blank", "unknown-field"],
)
def test_a_bad_hold_is_a_422_and_changes_nothing(
    client: TestClient, database: Database, settings: Settings, body: dict[str, Any]
) -> None:
    case = routed(database, settings)
    csrf = login(client, database, Role.POLICE)

    response = client.post(holds_url(case.case.id), json=body, headers=csrf)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    with database.transaction() as session:
        assert service.case_holds(session, case.case.id) == []


def test_holds_need_police_to_place_and_release(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    assert client.post(holds_url(case.case.id), json=HOLD).status_code == 401
    assert client.get(holds_url(case.case.id)).status_code == 401
    police = login(client, database, Role.POLICE)
    hold = client.post(holds_url(case.case.id), json=HOLD, headers=police).json()
    assert client.post(holds_url(uuid.uuid4()), json=HOLD, headers=police).status_code == 404
    unknown = client.post(f"/api/v1/holds/{uuid.uuid4()}/release", json={}, headers=police)
    assert unknown.status_code == 404

    analyst = login(client, database, Role.ANALYST)
    assert client.post(holds_url(case.case.id), json=HOLD, headers=analyst).status_code == 403
    release = f"/api/v1/holds/{hold['id']}/release"
    assert client.post(release, json={}, headers=analyst).status_code == 403
    # Staff read holds: they must know why a case's notices are paused.
    listed = client.get(holds_url(case.case.id))
    assert listed.status_code == 200
    assert [h["id"] for h in listed.json()["items"]] == [hold["id"]]
    assert client.get(holds_url(uuid.uuid4())).status_code == 404


def test_organizations_never_see_holds(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    key = factories.api_key(database, scopes=("cases:read",))
    response = client.get(holds_url(case.case.id), headers=bearer(key))
    assert response.status_code == 404
    assert client.get(QUEUE, headers=bearer(key)).status_code == 403
