"""Reading and moving cases through the API, with permissions."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.clock import FrozenClock
from takedown.db.session import Database
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.orgs.models import OrgKind
from tests import factories
from tests.factories import bearer, login

CLASSIFIED = {"inhope": "baseline", "media": "photographic"}


def report(client: TestClient, url: str, **extra: object) -> str:
    response = client.post("/api/v1/reports", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


def test_cases_need_credentials(client: TestClient) -> None:
    assert client.get("/api/v1/cases").status_code == 401


def test_list_is_most_urgent_first(client: TestClient, database: Database) -> None:
    public = report(client, "http://a.example/1")
    danger = report(client, "http://a.example/2", immediate_danger=True)
    police_key = factories.api_key(database, "Police", OrgKind.POLICE)
    police = client.post(
        "/api/v1/reports", json={"url": "http://a.example/3"}, headers=bearer(police_key)
    ).json()["case_id"]
    login(client, database, Role.ANALYST)
    body = client.get("/api/v1/cases").json()
    assert body["total"] == 3
    assert [c["id"] for c in body["items"]] == [danger, police, public]
    filtered = client.get("/api/v1/cases", params={"priority": "public"}).json()
    assert [c["id"] for c in filtered["items"]] == [public]


def test_case_detail_has_reports_and_timeline(
    client: TestClient, database: Database, clock: FrozenClock
) -> None:
    case_id = report(client, "http://b.example/x", description="<i>hello</i>")
    clock.advance(timedelta(minutes=1))
    report(client, "http://b.example/x")
    login(client, database, Role.ANALYST)
    body = client.get(f"/api/v1/cases/{case_id}").json()
    assert len(body["reports"]) == 2
    assert body["reports"][0]["description"] == "<i>hello</i>"
    assert [e["kind"] for e in body["timeline"]] == [
        "created",
        "report_received",
        "report_received",
    ]
    assert body["reports"][0]["reference"] in body["timeline"][1]["message"]


def test_keys_see_only_their_organizations_cases(client: TestClient, database: Database) -> None:
    mine = factories.api_key(database, "Flagger A")
    theirs = factories.api_key(database, "Flagger B")
    shared = client.post(
        "/api/v1/reports", json={"url": "http://c.example/s"}, headers=bearer(mine)
    ).json()
    client.post("/api/v1/reports", json={"url": "http://c.example/s"}, headers=bearer(theirs))
    other = client.post(
        "/api/v1/reports", json={"url": "http://c.example/o"}, headers=bearer(theirs)
    ).json()
    listed = client.get("/api/v1/cases", headers=bearer(mine)).json()
    assert [c["id"] for c in listed["items"]] == [shared["case_id"]]
    detail = client.get(f"/api/v1/cases/{shared['case_id']}", headers=bearer(mine)).json()
    # The reporter's view: this organization's report only, no count of the others'
    # (tests/cases/test_reporter_view.py has the rest).
    assert detail["view"] == "reporter"
    assert "report_count" not in detail
    assert [r["id"] for r in detail["reports"]] == [shared["report_id"]]
    assert client.get(f"/api/v1/cases/{other['case_id']}", headers=bearer(mine)).status_code == 404


def test_key_without_read_scope_is_forbidden(client: TestClient, database: Database) -> None:
    key = factories.api_key(database, scopes=("reports:write",))
    response = client.get("/api/v1/cases", headers=bearer(key))
    assert response.status_code == 403
    assert "cases:read" in response.json()["detail"]


def test_assessment_walks_the_state_machine(client: TestClient, database: Database) -> None:
    case_id = report(client, "http://d.example/1")
    csrf = login(client, database, Role.ANALYST)
    url = f"/api/v1/cases/{case_id}/assessment"
    confirm = {"decision": "confirm", "classification": CLASSIFIED, "note": "baseline"}
    # A new case has not been captured yet: it cannot be assessed.
    early = client.post(url, json=confirm, headers=csrf)
    assert early.status_code == 409
    assert "new" in early.json()["detail"]
    settings = client.app.state.takedown.settings  # type: ignore[attr-defined]
    clock = client.app.state.takedown.clock  # type: ignore[attr-defined]
    worker = Worker(database, settings, clock=clock, registry=load_handlers(settings))
    assert worker.run_once()
    done = client.post(url, json=confirm, headers=csrf)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["outcome"] == "confirmed"
    assert body["case"]["state"] == "confirmed"
    # Nothing was captured, so the decision is about the URL itself. The assessment and the
    # state change it makes share their time, so their order is not compared.
    kinds = [e["kind"] for e in body["case"]["timeline"]]
    assert kinds[:4] == ["created", "report_received", "captured", "state_changed"]
    assert sorted(kinds[4:]) == ["assessed", "state_changed"]
    again = client.post(url, json=confirm, headers=csrf)
    assert again.status_code == 409
    assert "confirmed already" in again.json()["detail"]


def test_state_changes_need_the_csrf_token_and_the_role(
    client: TestClient, database: Database
) -> None:
    case_id = report(client, "http://e.example/1")
    csrf = login(client, database, Role.ANALYST)
    close = f"/api/v1/cases/{case_id}/close"
    assert client.post(close, json={}).status_code == 403  # no CSRF token
    refused = client.post(close, json={}, headers=csrf)
    assert refused.status_code == 403
    assert "cases:supervise" in refused.json()["detail"]


def test_police_read_but_do_not_assess(client: TestClient, database: Database) -> None:
    case_id = report(client, "http://f.example/1")
    csrf = login(client, database, Role.POLICE)
    assert client.get(f"/api/v1/cases/{case_id}").status_code == 200
    response = client.post(
        f"/api/v1/cases/{case_id}/assessment",
        json={"decision": "confirm", "classification": CLASSIFIED},
        headers=csrf,
    )
    assert response.status_code == 403


def test_wrong_password_is_refused(client: TestClient, database: Database) -> None:
    factories.user(database, "bob")
    response = client.post(
        "/api/v1/auth/login", json={"username": "bob", "password": "wrong password!"}
    )
    assert response.status_code == 401
    missing = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert missing.json()["detail"] == response.json()["detail"]
