"""What an organization's API key sees of cases: its own reports and the public status only.

Two trusted flaggers and a police force report the same URL (each spelling it its own way);
an analyst confirms it with an internal note and police hold it. The second flagger must not
learn that police are interested, who else reported, who assessed or what they noted; the first
sees its own report and the public status; staff see everything. Organizations are fictional
and URLs are example URLs (RFC 2606); nothing is fetched.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.auth.principal import SYSTEM
from takedown.cases import service
from takedown.cases.models import CaseState
from takedown.clock import FrozenClock
from takedown.db.session import Database
from takedown.notices import service as notices
from takedown.notices.models import NoticeKind
from takedown.orgs.models import OrgKind
from tests import factories
from tests.factories import bearer, login
from tests.notices.support import mark_sent
from tests.notices.support import settings as notice_settings
from tests.orgs.support import directory_org

NOTE = "internal: same series as case 41, ask Q before noticing"
HOLD_REASON = "operation lantern: suspect identified"
FIRST_URL = "http://Shared.example/x/../gallery?id=1"
POLICE_URL = "http://shared.example/gallery?id=1"
SECOND_URL = "HTTP://SHARED.EXAMPLE:80/gallery?id=1"
CANONICAL = "http://shared.example/gallery?id=1"


@dataclass
class Shared:
    """The case everyone reported, and who reported what."""

    case_id: str
    first_key: str
    second_key: str
    police_key: str
    reports: dict[str, dict[str, Any]]  # the intake answers by reporter
    reported_at: dict[str, datetime]
    assessed_at: datetime
    staff: dict[str, str]  # the CSRF headers of the last staff user signed in


def submit(client: TestClient, key: str, url: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/reports", json={"url": url, **extra}, headers=bearer(key))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def to_assessment(database: Database, case_id: str, now: datetime) -> None:
    """Where capture would leave the case: awaiting an analyst (nothing is fetched here)."""
    with database.transaction() as session:
        case = service.get_case(session, uuid.UUID(case_id))
        service.transition(session, case, CaseState.AWAITING_ASSESSMENT, SYSTEM, now=now)


def confirm(client: TestClient, case_id: str, csrf: dict[str, str]) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/assessment",
        json={
            "decision": "confirm",
            "classification": {"inhope": "baseline", "media": "photographic"},
            "note": NOTE,
        },
        headers=csrf,
    )
    assert response.status_code == 200, response.text


def hold(client: TestClient, case_id: str, until: datetime, csrf: dict[str, str]) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/holds",
        json={"until": until.isoformat(), "reason": HOLD_REASON, "preserve_evidence": True},
        headers=csrf,
    )
    assert response.status_code == 201, response.text


@pytest.fixture
def shared(client: TestClient, database: Database, clock: FrozenClock) -> Shared:
    first = factories.api_key(database, "Flagger A")
    second = factories.api_key(database, "Flagger B")
    police = factories.api_key(database, "Politie", OrgKind.POLICE)
    reports, at = {}, {}
    for name, key, url, extra in (
        ("first", first, FIRST_URL, {"external_id": "A-1", "description": "from A"}),
        ("police", police, POLICE_URL, {"external_id": "P-9"}),
        ("second", second, SECOND_URL, {"external_id": "B-7"}),
    ):
        reports[name] = submit(client, key, url, **extra)
        at[name] = clock.now()
        clock.advance(timedelta(minutes=1))
    case_id = reports["first"]["case_id"]
    assert {r["case_id"] for r in reports.values()} == {case_id}
    to_assessment(database, case_id, clock.now())
    clock.advance(timedelta(minutes=5))
    confirm(client, case_id, login(client, database, Role.ANALYST))
    assessed_at = clock.now()
    clock.advance(timedelta(minutes=5))
    police_staff = login(client, database, Role.POLICE)
    hold(client, case_id, clock.now() + timedelta(days=30), police_staff)
    return Shared(case_id, first, second, police, reports, at, assessed_at, police_staff)


def when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def reporter_get(client: TestClient, path: str, key: str) -> Any:
    response = client.get(path, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def assert_reveals_nothing_internal(text: str, shared: Shared, own: str) -> None:
    """No trace of police, staff, notes or other reporters anywhere in the answer."""
    for secret in (NOTE, HOLD_REASON, "police", "Politie", "u-analyst", "u-police", "hold"):
        assert secret.lower() not in text.lower(), secret
    for name, report in shared.reports.items():
        if name != own:
            assert report["reference"] not in text
            assert report["report_id"] not in text
    urls = {"first": FIRST_URL, "police": POLICE_URL, "second": SECOND_URL}
    for name, url in urls.items():
        if name != own and url != CANONICAL:
            assert url not in text


# -- GET /api/v1/cases/{id} ------------------------------------------------------------------


def test_a_second_reporter_sees_no_police_priority_count_or_first_report(
    client: TestClient, shared: Shared
) -> None:
    response = client.get(f"/api/v1/cases/{shared.case_id}", headers=bearer(shared.second_key))
    assert response.status_code == 200, response.text
    body = response.json()
    for leak in ("priority", "report_count", "first_reported_at", "last_reported_at", "url"):
        assert leak not in body
    for leak in ("due_at", "escalated_at", "timeline", "items", "state"):
        assert leak not in body
    assert body["view"] == "reporter"
    assert body["canonical_url"] == CANONICAL
    assert_reveals_nothing_internal(response.text, shared, "second")


def test_a_reporter_sees_its_own_report_and_the_public_status(
    client: TestClient, shared: Shared
) -> None:
    body = reporter_get(client, f"/api/v1/cases/{shared.case_id}", shared.first_key)
    mine = shared.reports["first"]
    assert [r["id"] for r in body["reports"]] == [mine["report_id"]]
    (report,) = body["reports"]
    assert report["reference"] == mine["reference"]
    assert report["submitted_url"] == FIRST_URL  # the address as this reporter spelled it
    assert report["external_id"] == "A-1"
    assert report["description"] == "from A"
    assert when(report["received_at"]) == shared.reported_at["first"]
    assert when(body["received_at"]) == shared.reported_at["first"]
    # Assessed and confirmed; no notice yet (police hold it, which must not show).
    assert body["status"] == "assessed"
    assert body["verdict"] == "confirmed"
    assert when(body["assessed_at"]) == shared.assessed_at
    assert body["notice_sent_at"] is None
    assert body["removed_at"] is None
    assert_reveals_nothing_internal(
        client.get(f"/api/v1/cases/{shared.case_id}", headers=bearer(shared.first_key)).text,
        shared,
        "first",
    )


def test_a_police_forces_key_is_a_reporter_too(client: TestClient, shared: Shared) -> None:
    """Police act as staff users (``police:act``, in the console); their organization's key
    is a reporting channel and sees what any reporter sees: not even its own force's hold."""
    body = reporter_get(client, f"/api/v1/cases/{shared.case_id}", shared.police_key)
    assert body["view"] == "reporter"
    assert [r["id"] for r in body["reports"]] == [shared.reports["police"]["report_id"]]
    assert "priority" not in body
    text = client.get(f"/api/v1/cases/{shared.case_id}", headers=bearer(shared.police_key)).text
    assert HOLD_REASON not in text
    assert NOTE not in text
    assert "u-police" not in text


def test_staff_keep_the_full_view(client: TestClient, shared: Shared) -> None:
    # The police user signed in last; staff sessions see everything.
    body = client.get(f"/api/v1/cases/{shared.case_id}").json()
    assert body["view"] == "staff"
    assert body["priority"] == "police"
    assert body["report_count"] == 3
    assert body["url"] == FIRST_URL
    assert when(body["first_reported_at"]) == shared.reported_at["first"]
    assert len(body["reports"]) == 3
    notes = [e["data"].get("note") for e in body["timeline"]]
    assert NOTE in notes
    actors = {e["actor"] for e in body["timeline"]}
    assert {"u-analyst", "u-police"} <= actors


def test_another_organization_gets_404_as_for_a_case_that_does_not_exist(
    client: TestClient, database: Database, shared: Shared
) -> None:
    stranger = factories.api_key(database, "Flagger C")
    unknown = str(uuid.uuid4())
    for suffix in ("", "/trace", "/route", "/notices", "/holds"):
        theirs = client.get(f"/api/v1/cases/{shared.case_id}{suffix}", headers=bearer(stranger))
        missing = client.get(f"/api/v1/cases/{unknown}{suffix}", headers=bearer(stranger))
        assert theirs.status_code == missing.status_code == 404, suffix
        assert theirs.json()["title"] == missing.json()["title"]
        assert theirs.json()["detail"].replace(shared.case_id, unknown) == missing.json()["detail"]


def test_a_reporters_key_cannot_read_the_working_notes_under_its_own_case(
    client: TestClient, shared: Shared
) -> None:
    """Trace, route, notices and holds are the hotline's working notes (and police's)."""
    for suffix in ("/trace", "/route", "/notices", "/holds"):
        response = client.get(
            f"/api/v1/cases/{shared.case_id}{suffix}", headers=bearer(shared.first_key)
        )
        assert response.status_code == 404, suffix
        assert HOLD_REASON not in response.text


# -- a police hold is not distinguishable from a slow case -------------------------------------


def test_a_held_case_looks_exactly_like_a_slow_one(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    key = factories.api_key(database, "Flagger A")
    held = submit(client, key, "http://held.example/1", external_id="1")
    slow = submit(client, key, "http://slow.example/1", external_id="1")
    for case in (held, slow):
        to_assessment(database, case["case_id"], clock.now())
    clock.advance(timedelta(minutes=3))
    analyst = login(client, database, Role.ANALYST)
    for case in (held, slow):
        confirm(client, case["case_id"], analyst)
    clock.advance(timedelta(minutes=3))
    hold(
        client,
        held["case_id"],
        clock.now() + timedelta(days=7),
        login(client, database, Role.POLICE),
    )
    clock.advance(timedelta(hours=2))

    def shown(case: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = reporter_get(client, f"/api/v1/cases/{case['case_id']}", key)
        # What differs by construction: the case, its address, the report's id and reference.
        body.pop("id"), body.pop("canonical_url")
        for report in body["reports"]:
            report.pop("id"), report.pop("reference"), report.pop("submitted_url")
        return body

    assert shown(held) == shown(slow)
    listed = reporter_get(client, "/api/v1/cases", key)["items"]
    assert len(listed) == 2
    for item in listed:
        item.pop("id"), item.pop("canonical_url")
        for report in item["reports"]:
            report.pop("id"), report.pop("reference"), report.pop("submitted_url")
    assert listed[0] == listed[1]


# -- the public milestones ---------------------------------------------------------------------


def _notice(database: Database, case_id: str, kind: NoticeKind, name: str, at: datetime) -> None:
    with database.transaction() as session:
        case = service.get_case(session, uuid.UUID(case_id))
        org = directory_org(session, name, abuse_email=f"abuse@{uuid.uuid4().hex[:8]}.example")
        notice = notices.create_notice(
            session,
            case,
            kind=kind,
            org=org,
            org_name=org.name,
            country="NL",
            settings=notice_settings(),
            now=at,
        )
        mark_sent(notice, at)
        if case.first_notice_at is None:
            case.first_notice_at = at


def test_a_police_referral_is_not_a_notice_sent(
    client: TestClient, database: Database, clock: FrozenClock, shared: Shared
) -> None:
    """A referral to police (content abroad, no partner hotline) is not the host being told:
    showing it as "notice sent" would be false, and would tell the reporter police know."""
    clock.advance(timedelta(hours=1))
    _notice(database, shared.case_id, NoticeKind.POLICE_REFERRAL, "Politie NL", clock.now())
    body = reporter_get(client, f"/api/v1/cases/{shared.case_id}", shared.second_key)
    assert body["status"] == "assessed"
    assert body["notice_sent_at"] is None
    # The host is told later: that is the notice the reporter sees.
    clock.advance(timedelta(hours=1))
    noticed_at = clock.now()
    _notice(database, shared.case_id, NoticeKind.NOTICE, "Example Hosting", noticed_at)
    body = reporter_get(client, f"/api/v1/cases/{shared.case_id}", shared.second_key)
    assert body["status"] == "notice_sent"
    assert when(body["notice_sent_at"]) == noticed_at
    assert_reveals_nothing_internal(
        client.get(f"/api/v1/cases/{shared.case_id}", headers=bearer(shared.second_key)).text,
        shared,
        "second",
    )


def test_removal_shows_with_its_time_and_a_report_after_it_starts_again(
    client: TestClient, database: Database, clock: FrozenClock, shared: Shared
) -> None:
    clock.advance(timedelta(hours=1))
    _notice(database, shared.case_id, NoticeKind.NOTICE, "Example Hosting", clock.now())
    clock.advance(timedelta(hours=3))
    removed_at = clock.now()
    with database.transaction() as session:
        case = service.get_case(session, uuid.UUID(shared.case_id))
        case.removed_at = removed_at
        service.transition(session, case, CaseState.CLOSED, SYSTEM, now=removed_at)
    body = reporter_get(client, f"/api/v1/cases/{shared.case_id}", shared.first_key)
    assert body["status"] == "removed"
    assert when(body["removed_at"]) == removed_at
    assert body["verdict"] == "confirmed"
    assert body["notice_sent_at"] is not None

    # The content is back and reported again: the case walks again, from the start.
    clock.advance(timedelta(days=1))
    again = submit(client, shared.second_key, SECOND_URL, external_id="B-8")
    assert again["case_id"] == shared.case_id
    body = reporter_get(client, f"/api/v1/cases/{shared.case_id}", shared.second_key)
    assert body["status"] == "received"
    assert body["assessed_at"] is None
    assert body["verdict"] is None
    assert body["notice_sent_at"] is None
    assert body["removed_at"] is None
    assert [r["external_id"] for r in body["reports"]] == ["B-7", "B-8"]
    assert when(body["received_at"]) == shared.reported_at["second"]


# -- GET /api/v1/cases --------------------------------------------------------------------------


def test_the_list_shows_the_reporter_view_newest_report_first(
    client: TestClient, database: Database, clock: FrozenClock, shared: Shared
) -> None:
    clock.advance(timedelta(minutes=1))
    later = submit(client, shared.second_key, "http://other.example/1")
    response = client.get("/api/v1/cases", headers=bearer(shared.second_key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["view"] == "reporter"
    assert body["total"] == 2
    # Ordered by this reporter's own reports, never by priority (that would rank police first).
    assert [c["id"] for c in body["items"]] == [later["case_id"], shared.case_id]
    for item in body["items"]:
        assert "priority" not in item
        assert "report_count" not in item
    assert_reveals_nothing_internal(response.text, shared, "second")
    paged = client.get("/api/v1/cases?limit=1&offset=1", headers=bearer(shared.second_key))
    assert [c["id"] for c in paged.json()["items"]] == [shared.case_id]


@pytest.mark.parametrize("query", ["priority=police", "priority=trusted", "state=confirmed"])
def test_a_key_cannot_filter_by_priority_or_internal_state(
    client: TestClient, shared: Shared, query: str
) -> None:
    """Filtering by priority would tell which of its cases police reported."""
    response = client.get(f"/api/v1/cases?{query}", headers=bearer(shared.second_key))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_staff_list_keeps_priority_and_filters(client: TestClient, shared: Shared) -> None:
    body = client.get("/api/v1/cases?priority=police").json()
    assert body["view"] == "staff"
    assert [c["id"] for c in body["items"]] == [shared.case_id]
    assert body["items"][0]["report_count"] == 3


def test_openapi_documents_both_views(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "ReporterCaseView" in schemas
    assert "priority" not in schemas["ReporterCaseView"]["properties"]
    # The member that tells the two views apart is in every answer.
    for name in ("ReporterCaseView", "ReporterCaseList", "CaseDetailOut", "CaseListOut"):
        assert "view" in schemas[name]["required"], name
    for path in ("/api/v1/cases/{case_id}", "/api/v1/cases"):
        text = str(document["paths"][path]["get"]["responses"]["200"])
        assert "Reporter" in text, path
        assert "Case" in text, path
