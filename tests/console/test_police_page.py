"""The police page: the queue, clearing, holding and releasing through the forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.audit.models import AuditRecord
from takedown.auth.models import Role
from takedown.config import Settings
from takedown.db.session import Database
from takedown.police import service
from takedown.routing.models import RouteStep, StepStatus
from tests.console.support import sign_in
from tests.factories import NOW
from tests.police.support import Routed, notices_of, police_case

PAGE = "/console/police"
# The clock is frozen at NOW (2026-11-22 09:00 UTC).
IN_TWO_DAYS = (NOW + timedelta(days=2)).date().isoformat()


def routed(
    database: Database, settings: Settings, url: str = "http://host.example/a.jpg"
) -> Routed:
    with database.transaction() as session:
        return police_case(session, settings, url=url)


def step_status(database: Database, case: Routed) -> StepStatus:
    with database.transaction() as session:
        return session.get_one(RouteStep, case.police.id).status


def audit_actions(database: Database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_the_page_lists_waiting_cases_with_the_url_as_text(
    client: TestClient, database: Database, settings: Settings
) -> None:
    # Markup in a URL must come out as text, never as markup.
    case = routed(database, settings, url="http://host.example/<b>x</b>.jpg")
    sign_in(client, database, Role.POLICE)

    page = client.get(PAGE)

    assert page.status_code == 200, page.text
    assert "http://host.example/&lt;b&gt;x&lt;/b&gt;.jpg" in page.text
    assert "<b>x</b>" not in page.text
    assert str(case.case.id) in page.text
    assert "2026-11-22 09:00" in page.text  # waiting since
    assert "2026-11-22 10:00" in page.text  # until: the rule's one-hour wait
    assert "proceed" in page.text
    assert 'name="csrf_token"' in page.text


def test_other_roles_cannot_open_the_page(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.ANALYST)
    refused = client.get(PAGE)
    assert refused.status_code == 403
    assert "cannot open this page" in refused.text
    client.cookies.clear()
    assert client.get(PAGE, follow_redirects=False).status_code == 303


def test_police_clear_a_case_from_the_page(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    _, csrf = sign_in(client, database, Role.POLICE)

    response = client.post(
        f"{PAGE}/{case.case.id}/clear",
        data={"csrf_token": csrf, "note": "no objection"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == PAGE
    assert step_status(database, case) is StepStatus.DONE
    with database.transaction() as session:
        assert len(notices_of(session, case.case.id)) == 1
    assert "police.clear" in audit_actions(database)
    assert "No case is waiting for police" in client.get(PAGE).text
    # Cleared already: the page says why, and nothing changes.
    again = client.post(f"{PAGE}/{case.case.id}/clear", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "not waiting for police" in again.text


def test_police_hold_and_release_from_the_page(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    _, csrf = sign_in(client, database, Role.POLICE)

    held = client.post(
        f"{PAGE}/{case.case.id}/hold",
        data={
            "csrf_token": csrf,
            "reason": "Investigation 2026-042",
            "until": IN_TWO_DAYS,
            "preserve_evidence": "on",
        },
        follow_redirects=False,
    )

    assert held.status_code == 303
    with database.transaction() as session:
        [hold] = service.case_holds(session, case.case.id)
        assert hold.reason == "Investigation 2026-042"
        assert hold.preserve_evidence is True
        # The end of the day picked, in UTC.
        assert hold.until == datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
        assert notices_of(session, case.case.id) == []
    page = client.get(PAGE).text
    assert "Held until 2026-11-24 23:59" in page
    assert "Release the hold" in page
    # A held case is released, not cleared.
    refused = client.post(f"{PAGE}/{case.case.id}/clear", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert step_status(database, case) is StepStatus.IN_PROGRESS

    released = client.post(
        f"{PAGE}/holds/{hold.id}/release",
        data={"csrf_token": csrf, "note": "arrests made"},
        follow_redirects=False,
    )

    assert released.status_code == 303
    assert step_status(database, case) is StepStatus.DONE
    with database.transaction() as session:
        [hold] = service.case_holds(session, case.case.id)
        assert (hold.released_by, hold.release_note) == ("c-police", "arrests made")
        assert len(notices_of(session, case.case.id)) == 1
    actions = audit_actions(database)
    assert actions.index("police.hold") < actions.index("police.release")


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"reason": "", "until": IN_TWO_DAYS}, "reason", "give the reason"),
        ({"reason": "   ", "until": IN_TWO_DAYS}, "reason", "give the reason"),
        ({"reason": "Investigation", "until": ""}, "until", "give the date"),
        ({"reason": "Investigation", "until": "next week"}, "until", "is not a date"),
        ({"reason": "Investigation", "until": "2026-11-21"}, "until", "must be in the future"),
        ({"reason": "Investigation", "until": "2027-12-01"}, "until", "at most 365 days"),
    ],
    ids=["no-reason", "blank-reason", "no-date", "garbage-date", "past", "too-far"],
)
def test_a_bad_hold_shows_the_error_beside_the_field_and_saves_nothing(
    client: TestClient,
    database: Database,
    settings: Settings,
    form: dict[str, Any],
    field: str,
    message: str,
) -> None:
    case = routed(database, settings)
    _, csrf = sign_in(client, database, Role.POLICE)
    before = audit_actions(database)

    response = client.post(f"{PAGE}/{case.case.id}/hold", data={"csrf_token": csrf, **form})

    assert response.status_code == 422
    error_id = f'id="hold-{field}-error-{case.case.id}"'
    assert error_id in response.text
    after_field = response.text.split(error_id, 1)[1]
    assert message in after_field.split("</span>", 1)[0]
    # What was typed is kept, so it can be corrected.
    if form["reason"].strip():
        assert form["reason"] in response.text
    with database.transaction() as session:
        assert service.case_holds(session, case.case.id) == []
    assert audit_actions(database) == before
    assert step_status(database, case) is StepStatus.IN_PROGRESS


def test_police_forms_need_the_csrf_token(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case = routed(database, settings)
    sign_in(client, database, Role.POLICE)

    response = client.post(f"{PAGE}/{case.case.id}/clear", data={"note": "x"})

    assert response.status_code == 403
    assert step_status(database, case) is StepStatus.IN_PROGRESS
