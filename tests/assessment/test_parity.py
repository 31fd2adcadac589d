"""One assessment path: the console's form and the JSON API, given the same decision, leave
the same case, the same timeline and the same audit records.

Each test makes two alike cases (the same reporter, items hashed from different benign
photos, so adding to a bank adds the same number of hashes), decides one through the console
form and the other through the API, as the same signed-in person, and compares what each
left behind with the cases' own ids named alike (``support.trail``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.auth.models import Role
from takedown.auth.principal import PUBLIC, Principal
from takedown.cases.models import CaseState
from takedown.config import Settings
from takedown.db.session import Database
from takedown.matching import banks
from tests.assessment.support import (
    Trail,
    api_assess,
    api_decide,
    as_form,
    audit_position,
    console_assess,
    event_ids,
    first_item,
    trail,
)
from tests.console.support import sign_in
from tests.console.test_approvals import approvals_of
from tests.console.test_approvals import decide as console_decide
from tests.console.test_queue import FLAGGER, make_case, photo
from tests.factories import ACTOR, NOW

CLASSIFIED = {
    "inhope": "baseline",
    "uk_category": "B",
    "age_band": "11-13",
    "media": "photographic",
}
PHOTOS = {"console": ("q0003.jpg", "q0004.jpg"), "api": ("q0122.jpg", "q0291.jpg")}


def two_cases(
    database: Database, settings: Settings, reporter: Principal = PUBLIC
) -> dict[str, uuid.UUID]:
    return {
        path: make_case(
            database,
            settings,
            f"http://{path}.example/gallery",
            reporter=reporter,
            photos=[photo(name) for name in names],
        )
        for path, names in PHOTOS.items()
    }


Step = Callable[[str, uuid.UUID], None]


def run_both(database: Database, cases: dict[str, uuid.UUID], step: Step) -> dict[str, Trail]:
    """``step(path, case_id)`` on each case in turn; each case's trail of what it did."""
    before = {path: event_ids(database, case_id) for path, case_id in cases.items()}
    trails = {}
    for path, case_id in cases.items():
        start = audit_position(database)
        step(path, case_id)
        trails[path] = trail(
            database,
            case_id,
            events_before=before[path],
            audit_after=start,
            audit_upto=audit_position(database),
        )
    return trails


@pytest.mark.parametrize(
    ("role", "body", "state"),
    [
        # Confirm with the classification, on every item.
        (Role.ANALYST, {"decision": "confirm", "classification": CLASSIFIED}, "confirmed"),
        # One item not illegal: the case waits for the other.
        (
            Role.ANALYST,
            {"decision": "not_illegal", "scope": "FIRST", "note": "a benign test photo"},
            "awaiting_assessment",
        ),
        # One item confirmed: that is enough for the case.
        (
            Role.ANALYST,
            {"decision": "confirm", "scope": "FIRST", "classification": CLASSIFIED},
            "confirmed",
        ),
        (Role.ANALYST, {"decision": "second_opinion", "note": "look at the second photo"}, None),
        # A supervisor adds the confirmed items' hashes to a bank.
        (
            Role.SUPERVISOR,
            {"decision": "confirm", "classification": CLASSIFIED, "bank": "parity-known"},
            "confirmed",
        ),
        # The whole host onto the URL list (pending until a second person approves it).
        (
            Role.ANALYST,
            {"decision": "confirm", "classification": CLASSIFIED, "list_host": True},
            "confirmed",
        ),
    ],
)
def test_both_paths_leave_the_same_trail(
    client: TestClient,
    database: Database,
    settings: Settings,
    role: Role,
    body: dict[str, Any],
    state: str | None,
) -> None:
    with database.transaction() as session:
        banks.create_bank(session, ACTOR, name="parity-known", now=NOW)
    cases = two_cases(database, settings)
    _, csrf = sign_in(client, database, role, "pat")
    form_id = str(uuid.uuid4())  # one id for both: a form id is once per case

    def step(path: str, case_id: uuid.UUID) -> None:
        sent = body | {"form_id": form_id}
        if sent.get("scope") == "FIRST":
            sent["scope"] = first_item(database, case_id)
        if path == "console":
            response = console_assess(client, case_id, csrf, as_form(sent))
            assert response.status_code == 303, response.text
        else:
            response = api_assess(client, case_id, csrf, **sent)
            assert response.status_code == 200, response.text
            if state is not None:
                assert response.json()["case"]["state"] == state

    trails = run_both(database, cases, step)
    assert trails["api"] == trails["console"]
    # The comparison compares something: the decision was made.
    assert trails["api"].events
    assert trails["api"].audit
    if state is not None:
        assert trails["api"].case["state"] == state
    if "bank" in body:
        assert sum(r["action"] == "bank.entry.add" for r in trails["api"].audit) == 8


def test_four_eyes_the_same_through_both(
    client: TestClient, database: Database, settings: Settings
) -> None:
    """Not illegal on a trusted flagger's case waits for a second person, who approves it:
    the same approval, timeline and audit whichever way each person works."""
    cases = two_cases(database, settings, reporter=FLAGGER)
    _, ana = sign_in(client, database, Role.ANALYST, "ana")
    body = {"decision": "not_illegal", "note": "benign test photos", "form_id": str(uuid.uuid4())}

    def ask(path: str, case_id: uuid.UUID) -> None:
        if path == "console":
            response = console_assess(client, case_id, ana, as_form(body))
            assert response.headers["location"].startswith("/console/queue?done=approval")
        else:
            response = api_assess(client, case_id, ana, **body)
            assert response.status_code == 202, response.text

    asked = run_both(database, cases, ask)
    assert asked["api"] == asked["console"]
    assert asked["api"].case["state"] == CaseState.AWAITING_ASSESSMENT.value

    with TestClient(client.app) as other:
        _, ben = sign_in(other, database, Role.ANALYST, "ben")

        def approve(path: str, case_id: uuid.UUID) -> None:
            [approval] = approvals_of(database, case_id)
            if path == "console":
                response = console_decide(other, ben, approval, "approve", "agreed")
                assert response.status_code == 303, response.text
            else:
                response = api_decide(other, ben, approval.id, "approve", "agreed")
                assert response.status_code == 200, response.text

        approved = run_both(database, cases, approve)
    assert approved["api"] == approved["console"]
    assert approved["api"].case["state"] == CaseState.NOT_ILLEGAL.value
    assert [a["status"] for a in approved["api"].approvals] == ["approved"]
