"""The assessment API on its own: four eyes through ``/api/v1/approvals``, replays, field
errors, and who may do what. (``test_parity.py`` shows it does what the console does.)"""

from __future__ import annotations

import uuid
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from takedown.assessment import schemas
from takedown.assessment.classification import SCHEMES
from takedown.auth.models import Role
from takedown.cases.models import CaseState, ItemVerdict
from takedown.config import Settings
from takedown.db.session import Database
from takedown.matching import banks
from tests.assessment.support import api_assess, api_decide, event_ids, first_item
from tests.console.support import sign_in
from tests.console.test_assessment import items_of
from tests.console.test_queue import FLAGGER, make_case, photo, state_of
from tests.factories import ACTOR, NOW, login

CONFIRM: dict[str, Any] = {
    "decision": "confirm",
    "classification": {"inhope": "baseline", "media": "photographic"},
}
NOT_ILLEGAL: dict[str, Any] = {"decision": "not_illegal", "note": "a benign test photo"}


@pytest.fixture
def case_id(database: Database, settings: Settings) -> uuid.UUID:
    """A public report's case with two unknown items, awaiting assessment."""
    return make_case(
        database, settings, "http://site.example/g", photos=[photo(), photo("q0004.jpg")]
    )


@pytest.fixture
def flagged(database: Database, settings: Settings) -> uuid.UUID:
    """A case a trusted flagger reported: calling it not illegal needs a second person."""
    return make_case(
        database, settings, "http://flagged.example/p", reporter=FLAGGER, photos=[photo()]
    )


def fields_of(response: Any) -> list[list[str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["loc"] for e in response.json()["errors"]]


def test_the_schema_offers_the_schemes_codes() -> None:
    literals = {
        "inhope": schemas.InhopeCode,
        "uk_category": schemas.UkCategory,
        "industry": schemas.IndustryCode,
        "age_band": schemas.AgeBand,
        "media": schemas.MediaCode,
    }
    assert {s.field: set(s.codes) for s in SCHEMES} == {
        field: set(get_args(literal)) for field, literal in literals.items()
    }


def test_confirm_on_every_item_with_the_classification(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    body = CONFIRM | {"classification": CONFIRM["classification"] | {"uk_category": "A"}}
    response = api_assess(client, case_id, csrf, **body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["outcome"], answer["case"]["state"], answer["approval"]) == (
        "confirmed",
        "confirmed",
        None,
    )
    assert {(i.verdict, i.classification) for i in items_of(database, case_id)} == {
        (ItemVerdict.CONFIRMED, "inhope=baseline;uk=A;media=photographic")
    }
    assert "assessed" in [e["kind"] for e in answer["case"]["timeline"]]


def test_per_item_verdicts(client: TestClient, database: Database, case_id: uuid.UUID) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    first = first_item(database, case_id)
    one = api_assess(client, case_id, csrf, **NOT_ILLEGAL, scope=first)
    assert one.json()["outcome"] == "items"
    assert one.json()["case"]["state"] == "awaiting_assessment"
    assert [i.verdict for i in items_of(database, case_id)] == [
        ItemVerdict.NOT_ILLEGAL,
        ItemVerdict.UNKNOWN,
    ]
    # The decided item is not one left to assess any more.
    again = api_assess(client, case_id, csrf, **NOT_ILLEGAL, scope=first)
    assert fields_of(again) == [["body", "scope"]]
    rest = api_assess(client, case_id, csrf, **NOT_ILLEGAL)
    assert (rest.json()["outcome"], rest.json()["case"]["state"]) == ("not_illegal", "not_illegal")


def test_a_supervisor_adds_the_hashes_to_a_bank_and_an_analyst_may_not(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    with database.transaction() as session:
        banks.create_bank(session, ACTOR, name="api-known", now=NOW)
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    refused = api_assess(client, case_id, csrf, **CONFIRM, bank="api-known")
    assert fields_of(refused) == [["body", "bank"]]
    assert "banks:write" in refused.json()["detail"]
    _, csrf = sign_in(client, database, Role.SUPERVISOR, "sue")
    unknown = api_assess(client, case_id, csrf, **CONFIRM, bank="no-such-bank")
    assert fields_of(unknown) == [["body", "bank"]]
    done = api_assess(client, case_id, csrf, **CONFIRM, bank="api-known")
    assert done.status_code == 200, done.text
    [assessed] = [e for e in done.json()["case"]["timeline"] if e["kind"] == "assessed"]
    assert assessed["data"]["bank"] == "api-known"
    assert assessed["data"]["bank_entries_added"] > 0


def test_four_eyes_through_the_api(
    client: TestClient, database: Database, flagged: uuid.UUID
) -> None:
    _, ana = sign_in(client, database, Role.ANALYST, "ana")
    asked = api_assess(client, flagged, ana, **NOT_ILLEGAL)
    assert asked.status_code == 202, asked.text
    answer = asked.json()
    assert answer["outcome"] == "approval"
    approval = answer["approval"]
    assert {k: approval[k] for k in ("action", "requested_by", "reason", "status", "target")} == {
        "action": "not_illegal_trusted",
        "requested_by": "ana",
        "reason": NOT_ILLEGAL["note"],
        "status": "pending",
        "target": "not_illegal",
    }
    assert "flagged.example" in approval["subject"]
    assert approval["assessment"]["decision"] == "not_illegal"
    # Nothing is carried out yet, and the case cannot be assessed again meanwhile.
    assert answer["case"]["state"] == "awaiting_assessment"
    blocked = api_assess(client, flagged, ana, **CONFIRM)
    assert blocked.status_code == 409
    assert "second person" in blocked.json()["detail"]
    listed = client.get("/api/v1/approvals").json()
    assert (listed["total"], [a["id"] for a in listed["items"]]) == (1, [approval["id"]])
    assert client.get(f"/api/v1/approvals/{approval['id']}").json() == approval
    # The proposer cannot decide their own request, either way.
    own = api_decide(client, ana, approval["id"], "approve")
    assert own.status_code == 403
    assert "yourself" in own.json()["detail"]
    assert api_decide(client, ana, approval["id"], "reject", "no").status_code == 403
    assert state_of(database, flagged) is CaseState.AWAITING_ASSESSMENT
    with TestClient(client.app) as other:
        _, ben = sign_in(other, database, Role.ANALYST, "ben")
        done = api_decide(other, ben, approval["id"], "approve", "agreed")
        assert done.status_code == 200, done.text
        decided = done.json()
        assert (decided["outcome"], decided["case"]["state"]) == ("not_illegal", "not_illegal")
        assert (decided["approval"]["status"], decided["approval"]["decided_by"]) == (
            "approved",
            "ben",
        )
        # Decided once only.
        assert api_decide(other, ben, approval["id"], "approve").status_code == 409
    assert state_of(database, flagged) is CaseState.NOT_ILLEGAL
    assert client.get("/api/v1/approvals").json()["total"] == 0
    approved = client.get("/api/v1/approvals", params={"status": "approved"}).json()
    assert [a["id"] for a in approved["items"]] == [approval["id"]]


def test_rejecting_needs_a_note_and_leaves_the_case_in_the_queue(
    client: TestClient, database: Database, flagged: uuid.UUID
) -> None:
    _, ana = sign_in(client, database, Role.ANALYST, "ana")
    approval_id = api_assess(client, flagged, ana, **NOT_ILLEGAL).json()["approval"]["id"]
    with TestClient(client.app) as other:
        _, ben = sign_in(other, database, Role.ANALYST, "ben")
        assert fields_of(api_decide(other, ben, approval_id, "reject", "  ")) == [["body", "note"]]
        done = api_decide(other, ben, approval_id, "reject", "the second photo needs a look")
        assert done.status_code == 200, done.text
        answer = done.json()
    assert (answer["outcome"], answer["case"]["state"]) == ("rejected", "awaiting_assessment")
    assert answer["approval"]["status"] == "rejected"
    assert answer["approval"]["decision_note"] == "the second photo needs a look"
    assert [e["kind"] for e in answer["case"]["timeline"]][-1] == "approval_rejected"
    assert {i.verdict for i in items_of(database, flagged)} == {ItemVerdict.UNKNOWN}
    # With the request decided, the case can be assessed again.
    assert api_assess(client, flagged, ana, **CONFIRM).status_code == 200


def test_a_replayed_form_id_does_nothing(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    form_id = str(uuid.uuid4())
    first = api_assess(client, case_id, csrf, **NOT_ILLEGAL, form_id=form_id)
    assert first.json()["outcome"] == "not_illegal"
    events = event_ids(database, case_id)
    again = api_assess(client, case_id, csrf, **NOT_ILLEGAL, form_id=form_id)
    assert again.status_code == 200, again.text
    assert (again.json()["outcome"], again.json()["case"]["state"]) == (
        "duplicate",
        "not_illegal",
    )
    assert event_ids(database, case_id) == events


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # Not a code of the scheme: refused by the schema.
        (CONFIRM | {"classification": {"inhope": "baseline", "uk_category": "D"}}, "uk_category"),
        # A code of the scheme, against the assessment's rules.
        ({"decision": "confirm", "classification": {"inhope": "baseline"}}, "media"),
        ({"decision": "confirm", "classification": {"inhope": "not_illegal"}}, "inhope"),
        (NOT_ILLEGAL | {"classification": {"uk_category": "A"}}, "uk_category"),
    ],
)
def test_a_bad_classification_is_a_422_naming_the_field(
    client: TestClient, database: Database, case_id: uuid.UUID, body: dict[str, Any], field: str
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    events = event_ids(database, case_id)
    response = api_assess(client, case_id, csrf, **body)
    assert ["body", "classification", field] in fields_of(response)
    assert f"classification.{field}" in response.json()["detail"]
    assert event_ids(database, case_id) == events
    assert state_of(database, case_id) is CaseState.AWAITING_ASSESSMENT


def test_rule_errors_are_all_named_at_once(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    response = api_assess(client, case_id, csrf, decision="second_opinion", scope=str(uuid.uuid4()))
    assert fields_of(response) == [["body", "note"]]
    unknown_item = api_assess(client, case_id, csrf, **CONFIRM, scope=str(uuid.uuid4()))
    assert fields_of(unknown_item) == [["body", "scope"]]


def test_who_may_assess_and_decide(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    url = f"/api/v1/cases/{case_id}/assessment"
    assert client.post(url, json=CONFIRM).status_code == 401
    assert client.get("/api/v1/approvals").status_code == 401
    police = login(client, database, Role.POLICE)
    assert client.post(url, json=CONFIRM, headers=police).status_code == 403
    assert client.get("/api/v1/approvals").status_code == 403
    missing = api_decide(client, police["X-CSRF-Token"], uuid.uuid4(), "approve")
    assert missing.status_code == 403
    analyst = login(client, database, Role.ANALYST)
    assert client.post(url, json=CONFIRM).status_code == 403  # no CSRF token
    assert api_decide(client, analyst["X-CSRF-Token"], uuid.uuid4(), "approve").status_code == 404
    assert client.post(url, json=CONFIRM, headers=analyst).status_code == 200
