"""The routing API: rules (read by staff who read the directory, written by admins) and a
case's route."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.auth.permissions import KEY_SCOPES
from takedown.auth.principal import SYSTEM
from takedown.cases.models import Case, CaseState
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.orgs.models import OrgKind
from takedown.routing import rules, service
from tests import factories
from tests.factories import NOW, bearer, login

from .support import DE_HOST, NL_HOST, US, add_trace, confirmed_case, serving, trace_data

RULES = "/api/v1/routing/rules"


def routed_case(database: Database, settings: Settings) -> uuid.UUID:
    with database.transaction() as session:
        serving(session, "Politie", OrgKind.POLICE, "NL")
        case = confirmed_case(session)
        trace = add_trace(session, case, trace_data(NL_HOST))
        service.route_case(session, case, trace, settings=settings, now=NOW, actor=SYSTEM)
        return case.id


def test_rules_need_credentials(client: TestClient) -> None:
    assert client.get(RULES).status_code == 401
    assert client.put(f"{RULES}/DE", json={"list_url": False}).status_code == 401
    assert client.delete(f"{RULES}/DE").status_code == 401


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR, Role.ANALYST])
def test_staff_who_read_the_directory_read_the_rules(
    client: TestClient, database: Database, role: Role
) -> None:
    login(client, database, role)
    listed = client.get(RULES)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["home_country"] == "NL"
    assert body["rules"] == []
    assert body["built_in_home"]["police_first"] is True
    assert body["built_in_home"]["police_wait_seconds"] == 86400
    assert body["built_in_abroad"]["list_url"] is True
    assert body["built_in_abroad"]["source"] == "built-in"


def test_police_and_keys_do_not_read_the_rules(client: TestClient, database: Database) -> None:
    # A key holds at most KEY_SCOPES, and none of them reads the directory or the rules.
    key = factories.api_key(database, "Flagger", scopes=tuple(sorted(KEY_SCOPES)))
    as_key = client.get(RULES, headers=bearer(key))
    login(client, database, Role.POLICE)
    as_police = client.get(RULES)
    for refused in (as_key, as_police):
        assert refused.status_code == 403, refused.text
        assert "orgs:read" in refused.json()["detail"]


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ANALYST, Role.POLICE])
def test_only_admins_change_rules(client: TestClient, database: Database, role: Role) -> None:
    with database.transaction() as session:
        rules.set_rule(session, SYSTEM, "FR", now=NOW, home_country="NL", list_url=False)
    csrf = login(client, database, role)
    refused = client.put(f"{RULES}/DE", json={"list_url": False}, headers=csrf)
    assert refused.status_code == 403
    assert "orgs:manage" in refused.json()["detail"]
    assert client.delete(f"{RULES}/FR", headers=csrf).status_code == 403
    client.cookies.clear()
    key = factories.api_key(database, "Flagger", scopes=tuple(sorted(KEY_SCOPES)))
    as_key = client.put(f"{RULES}/DE", json={"list_url": False}, headers=bearer(key))
    assert as_key.status_code == 403
    assert client.delete(f"{RULES}/FR", headers=bearer(key)).status_code == 403
    with database.sessions() as session:
        assert [r.country for r in rules.list_rules(session)] == ["FR"]


def test_admins_set_and_delete_rules(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        eco = serving(session, "eco", OrgKind.HOTLINE, "DE")
    csrf = login(client, database, Role.ADMIN)
    body = {"list_url": False, "partner_org_id": str(eco.id), "notes": "per MoU"}
    created = client.put(f"{RULES}/de", json=body, headers=csrf)
    assert created.status_code == 200, created.text
    rule = created.json()
    assert (rule["country"], rule["list_url"], rule["partner_org_id"]) == ("DE", False, str(eco.id))
    assert (rule["police_first"], rule["forward_to_partner"], rule["notes"]) == (
        False,
        True,
        "per MoU",
    )
    changed = client.put(
        f"{RULES}/DE", json={"police_wait_seconds": 3600, "partner_org_id": None}, headers=csrf
    ).json()
    assert (changed["id"], changed["list_url"], changed["partner_org_id"]) == (
        rule["id"],
        False,
        None,
    )
    assert client.put(f"{RULES}/*", json={"list_url": False}, headers=csrf).status_code == 200
    assert [r["country"] for r in client.get(RULES).json()["rules"]] == ["*", "DE"]
    assert client.delete(f"{RULES}/DE", headers=csrf).status_code == 204
    missing = client.delete(f"{RULES}/DE", headers=csrf)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_bad_rules_are_refused(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        host = serving(session, "Example Hosting", OrgKind.HOSTING_PROVIDER, country="DE")
    csrf = login(client, database, Role.ADMIN)
    cases = [
        ("XX", {"list_url": True}, "ISO 3166-1"),
        ("DE", {"partner_org_id": str(host.id)}, "must be a hotline"),
        ("DE", {"police_wait_seconds": -5}, ""),
        ("DE", {"police_first": None}, "cannot be null"),
        ("DE", {"colour": "red"}, ""),
        ("DE", {"on_police_timeout": "panic"}, ""),
    ]
    for country, body, message in cases:
        response = client.put(f"{RULES}/{country}", json=body, headers=csrf)
        assert response.status_code == 422, (body, response.text)
        assert message in response.text
    as_form = client.put(f"{RULES}/DE", data={"list_url": "false"}, headers=csrf)
    assert as_form.status_code == 415
    assert client.get(RULES).json()["rules"] == []


def test_the_current_route_is_for_staff(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case_id = routed_case(database, settings)
    login(client, database, Role.POLICE)
    response = client.get(f"/api/v1/cases/{case_id}/route")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "home"
    assert body["explanation"].startswith("Home route: police deconfliction with Politie")
    assert [(s["seq"], s["action"], s["status"], s["after_seq"]) for s in body["steps"]] == [
        (1, "police_deconfliction", "planned", None),
        (2, "notice", "waiting", 1),
    ]
    assert body["steps"][1]["org_name"] == "Example Hosting"
    assert body["data"]["groups"][0]["outcome"] == "home"
    assert client.get(f"/api/v1/cases/{uuid.uuid4()}/route").status_code == 404


def test_a_case_without_route_is_not_found(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        case_id = confirmed_case(session).id
    login(client, database, Role.ANALYST)
    response = client.get(f"/api/v1/cases/{case_id}/route")
    assert response.status_code == 404
    assert "not been routed" in response.json()["detail"]


def test_keys_never_see_routes(client: TestClient, database: Database, settings: Settings) -> None:
    key = factories.api_key(database, "Flagger", scopes=("reports:write", "cases:read"))
    case_id = client.post(
        "/api/v1/reports", json={"url": "http://host.example/k.jpg"}, headers=bearer(key)
    ).json()["case_id"]
    with database.transaction() as session:
        case = session.get_one(Case, uuid.UUID(case_id))
        case.state = CaseState.CONFIRMED
        trace = add_trace(session, case, trace_data(US))
        service.route_case(session, case, trace, settings=settings, now=NOW, actor=SYSTEM)
    # The organization sees its case, but not the hotline's working notes on it.
    assert client.get(f"/api/v1/cases/{case_id}", headers=bearer(key)).status_code == 200
    hidden = client.get(f"/api/v1/cases/{case_id}/route", headers=bearer(key))
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"no case {case_id}"


def test_supervisors_decide_the_route_again(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    case_id = routed_case(database, settings)
    with database.transaction() as session:
        case = session.get_one(Case, case_id)
        add_trace(session, case, trace_data(DE_HOST), at=NOW + timedelta(hours=1))
    analyst = login(client, database, Role.ANALYST)
    refused = client.post(f"/api/v1/cases/{case_id}/route", headers=analyst)
    assert refused.status_code == 403
    client.cookies.clear()
    supervisor = login(client, database, Role.SUPERVISOR)
    clock.advance(timedelta(hours=2))
    response = client.post(f"/api/v1/cases/{case_id}/route", headers=supervisor)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "abroad"
    assert [s["action"] for s in body["steps"]] == ["notice", "police_referral", "list_url"]
    current = client.get(f"/api/v1/cases/{case_id}/route").json()
    assert current["id"] == body["id"]
    with database.transaction() as session:
        case = session.get_one(Case, case_id)
        case.state = CaseState.CLOSED
    closed = client.post(f"/api/v1/cases/{case_id}/route", headers=supervisor)
    assert closed.status_code == 409
    assert client.get(f"/api/v1/cases/{case_id}/route").json()["id"] == body["id"]
