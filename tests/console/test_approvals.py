"""Four eyes: decisions held for a second person, who approves (and so carries them out) or
rejects them; nobody decides their own."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.assessment import approvals, queue
from takedown.assessment import service as assessment
from takedown.assessment.classification import parse_form
from takedown.assessment.models import Approval, ApprovalStatus
from takedown.audit.models import AuditRecord
from takedown.auth.models import Role
from takedown.auth.permissions import ROLE_PERMISSIONS
from takedown.auth.principal import SYSTEM, Principal
from takedown.cases import service as cases
from takedown.cases.models import CaseState, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.errors import Conflict, Forbidden
from takedown.lists import entries
from takedown.lists.models import EntryStatus, UrlEntry
from takedown.matching import banks
from takedown.notices import service as notices
from takedown.notices import steps
from takedown.routing.service import current_route, route_case, route_steps
from tests.console.support import sign_in
from tests.console.test_assessment import CONFIRM, items_of, post_assessment, trace_jobs
from tests.console.test_queue import FLAGGER, events_of, make_case, photo, state_of
from tests.factories import ACTOR, NOW
from tests.routing.support import DE_HOST, add_trace, confirmed_case, trace_data

NOT_ILLEGAL = {"decision": "not_illegal", "note": "a benign test photo: nothing to act on"}


@pytest.fixture
def flagged(database: Database, settings: Settings) -> uuid.UUID:
    """A case a trusted flagger reported, with one unknown item."""
    return make_case(
        database, settings, "http://flagged.example/p", reporter=FLAGGER, photos=[photo()]
    )


def staff(label: str, role: Role) -> Principal:
    return Principal(kind="user", id=label, label=label, permissions=ROLE_PERMISSIONS[role])


def approvals_of(database: Database, case_id: uuid.UUID) -> list[Approval]:
    with database.sessions() as session:
        return list(session.scalars(select(Approval).where(Approval.case_id == case_id)))


def decide(
    client: TestClient, csrf: str, approval: Approval, verb: str, note: str = ""
) -> httpx.Response:
    return client.post(
        f"/console/approvals/{approval.id}/{verb}",
        data={"csrf_token": csrf, "note": note},
        follow_redirects=False,
    )


def test_not_illegal_on_a_trusted_flaggers_case_waits_for_a_second_person(
    client: TestClient, database: Database, flagged: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    response = post_assessment(client, flagged, csrf, **NOT_ILLEGAL)
    assert response.headers["location"] == f"/console/queue?done=approval&case={flagged}"
    assert "waits for a second person" in client.get(response.headers["location"]).text
    # Nothing is carried out yet.
    assert state_of(database, flagged) is CaseState.AWAITING_ASSESSMENT
    assert {i.verdict for i in items_of(database, flagged)} == {ItemVerdict.UNKNOWN}
    [approval] = approvals_of(database, flagged)
    assert (approval.action, approval.status, approval.requested_by) == (
        "not_illegal_trusted",
        ApprovalStatus.PENDING,
        "ana",
    )
    assert approval.reason == NOT_ILLEGAL["note"]
    page = client.get("/console/approvals").text
    assert "Not illegal, although police or a trusted flagger reported it" in page
    assert "a benign test photo: nothing to act on" in page
    assert "Your own request: another person decides it." in page
    # The queue shows the case waits, and Next does not hand it out: nobody can assess it.
    assert "decision waits for four eyes" in client.get("/console/queue").text
    taken = client.post("/console/queue/next", data={"csrf_token": csrf}, follow_redirects=False)
    assert taken.headers["location"] == "/console/queue?done=empty"
    # A second assessment of the case is refused until the first is decided.
    again = post_assessment(client, flagged, csrf, **CONFIRM)
    assert again.status_code == 409
    assert "waits for a second person" in again.text


def test_the_requester_cannot_approve_but_another_can_and_the_case_moves(
    client: TestClient, database: Database, flagged: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    post_assessment(client, flagged, csrf, **NOT_ILLEGAL)
    [approval] = approvals_of(database, flagged)
    own = decide(client, csrf, approval, "approve")
    assert own.status_code == 403
    assert "You asked for this decision yourself" in own.text
    assert decide(client, csrf, approval, "reject", "no").status_code == 403
    assert state_of(database, flagged) is CaseState.AWAITING_ASSESSMENT
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        done = decide(other, ben_csrf, approval, "approve", "agreed")
        assert done.headers["location"] == "/console/approvals?done=approved"
        assert "Approved: the decision is carried out." in other.get(done.headers["location"]).text
    assert state_of(database, flagged) is CaseState.NOT_ILLEGAL
    assert {i.verdict for i in items_of(database, flagged)} == {ItemVerdict.NOT_ILLEGAL}
    [decided] = approvals_of(database, flagged)
    assert (decided.status, decided.decided_by, decided.decision_note) == (
        ApprovalStatus.APPROVED,
        "ben",
        "agreed",
    )
    with database.sessions() as session:
        [assessed] = events_of(session, flagged, "assessed")
        assert (assessed.data["decided_by"], assessed.data["approved_by"]) == ("ana", "ben")
        actions = [
            (a.action, a.actor_label)
            for a in session.scalars(select(AuditRecord).order_by(AuditRecord.seq))
            if a.action.startswith("approval.")
        ]
    assert actions == [("approval.request", "ana"), ("approval.approve", "ben")]
    # Decided once is decided: approving again is a conflict, not a second carrying-out.
    with TestClient(client.app) as third:
        _, cy_csrf = sign_in(third, database, Role.ANALYST, "cy")
        assert decide(third, cy_csrf, approval, "approve").status_code == 409


def test_a_rejection_needs_a_reason_and_leaves_the_case_in_the_queue(
    client: TestClient, database: Database, clock: FrozenClock, flagged: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    post_assessment(client, flagged, csrf, **NOT_ILLEGAL)
    [approval] = approvals_of(database, flagged)
    clock.advance(timedelta(minutes=5))
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.SUPERVISOR, "ben")
        refused = decide(other, ben_csrf, approval, "reject")
        assert refused.status_code == 422
        assert "Say why you reject it" in refused.text
        decide(other, ben_csrf, approval, "reject", "the flagger's report is credible")
    [rejected] = approvals_of(database, flagged)
    assert rejected.status is ApprovalStatus.REJECTED
    assert state_of(database, flagged) is CaseState.AWAITING_ASSESSMENT
    # Back in the queue: it can be assessed afresh.
    assert post_assessment(client, flagged, csrf, **CONFIRM).status_code == 303
    assert state_of(database, flagged) is CaseState.CONFIRMED


def test_reversing_a_not_illegal_decision_needs_four_eyes(
    client: TestClient, database: Database, settings: Settings, clock: FrozenClock
) -> None:
    case_id = make_case(database, settings, "http://public.example/p", photos=[photo()])
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    post_assessment(client, case_id, csrf, **NOT_ILLEGAL)
    assert state_of(database, case_id) is CaseState.NOT_ILLEGAL  # a public report: one person
    clock.advance(timedelta(hours=1))
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        form = other.get(f"/console/cases/{case_id}/assess").text
        assert "reverses that decision, so a second person must approve it" in form
        response = post_assessment(other, case_id, ben_csrf, **CONFIRM)
        assert response.headers["location"].startswith("/console/queue?done=approval")
        [approval] = approvals_of(database, case_id)
        assert approval.action == "reverse_decision"
        assert state_of(database, case_id) is CaseState.NOT_ILLEGAL
        assert trace_jobs(database, case_id) == 0
    decide(client, csrf, approval, "approve")
    assert state_of(database, case_id) is CaseState.CONFIRMED
    assert {i.verdict for i in items_of(database, case_id)} == {ItemVerdict.CONFIRMED}
    assert trace_jobs(database, case_id) == 1


def test_a_request_whose_case_moved_on_is_not_carried_out(
    client: TestClient, database: Database, flagged: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    post_assessment(client, flagged, csrf, **NOT_ILLEGAL)
    [approval] = approvals_of(database, flagged)
    with database.transaction() as session:
        cases.close(session, flagged, ACTOR, now=NOW, note="duplicate of another case")
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        response = decide(other, ben_csrf, approval, "approve")
        assert response.status_code == 409
        assert "The case is closed now" in response.text
    assert approvals_of(database, flagged)[0].status is ApprovalStatus.PENDING
    assert state_of(database, flagged) is CaseState.CLOSED


def test_without_the_setting_one_person_decides(
    database: Database, settings: Settings, flagged: uuid.UUID
) -> None:
    alone = settings.model_copy(update={"four_eyes_actions": ("list_host",)})
    ana = staff("ana", Role.ANALYST)
    parsed = parse_form(
        {"form_id": uuid.uuid4().hex, **NOT_ILLEGAL}, may_bank=False, may_list_host=False
    )
    with database.transaction() as session:
        outcome = assessment.assess(session, flagged, parsed, ana, settings=alone, now=NOW)
    assert outcome.kind == "not_illegal"
    assert approvals_of(database, flagged) == []
    assert state_of(database, flagged) is CaseState.NOT_ILLEGAL


def test_a_whole_host_goes_out_at_once_without_the_setting(
    database: Database, settings: Settings
) -> None:
    case_id = make_case(database, settings, "http://dedicated.example/x", photos=[photo()])
    alone = settings.model_copy(update={"four_eyes_actions": ()})
    ana = staff("ana", Role.ANALYST)
    parsed = parse_form(
        {"form_id": uuid.uuid4().hex, **CONFIRM, "list_host": "1"},
        may_bank=False,
        may_list_host=True,
    )
    with database.transaction() as session:
        assessment.assess(session, case_id, parsed, ana, settings=alone, now=NOW)
    with database.sessions() as session:
        [entry] = session.scalars(select(UrlEntry).where(UrlEntry.case_id == case_id))
    assert (entry.status, entry.approved_by) == (EntryStatus.ACTIVE, "system")


def test_approving_a_decision_that_banks_hashes_needs_banks_write(
    database: Database, settings: Settings, flagged: uuid.UUID
) -> None:
    """A supervisor's reversal that adds hashes to a bank cannot be approved by an analyst."""
    with database.transaction() as session:
        banks.create_bank(session, ACTOR, name="four-eyes-bank", now=NOW)
    ana = staff("ana", Role.ANALYST)
    with database.transaction() as session:
        first = assessment.assess(
            session,
            flagged,
            parse_form(
                {"form_id": uuid.uuid4().hex, **NOT_ILLEGAL}, may_bank=False, may_list_host=False
            ),
            ana,
            settings=settings.model_copy(update={"four_eyes_actions": ()}),
            now=NOW,
        )
    assert first.kind == "not_illegal"
    sup = staff("sup", Role.SUPERVISOR)
    confirm = {"form_id": uuid.uuid4().hex, **CONFIRM, "add_to_bank": "1", "bank": "four-eyes-bank"}
    later = NOW + timedelta(hours=1)
    with database.transaction() as session:
        asked = assessment.assess(
            session,
            flagged,
            parse_form(confirm, may_bank=True, may_list_host=True),
            sup,
            settings=settings,
            now=later,
        )
    assert asked.kind == "approval"
    assert asked.approval_id is not None
    analyst = staff("cy", Role.ANALYST)
    with pytest.raises(Forbidden, match="banks:write"), database.transaction() as session:
        approvals.approve(
            session, asked.approval_id, analyst, note="", settings=settings, now=later
        )
    with database.transaction() as session:
        approvals.approve(
            session,
            asked.approval_id,
            staff("dee", Role.SUPERVISOR),
            note="",
            settings=settings,
            now=later,
        )
    assert state_of(database, flagged) is CaseState.CONFIRMED


def test_take_next_skips_cases_waiting_for_approval(
    database: Database, settings: Settings, flagged: uuid.UUID
) -> None:
    ana = staff("ana", Role.ANALYST)
    parsed = parse_form(
        {"form_id": uuid.uuid4().hex, **NOT_ILLEGAL}, may_bank=False, may_list_host=False
    )
    with database.transaction() as session:
        assert assessment.assess(
            session, flagged, parsed, ana, settings=settings, now=NOW
        ).kind == ("approval")
        assert queue.take_next(session, ana, now=NOW) is None
        with pytest.raises(Conflict):
            assessment.assess(
                session,
                flagged,
                parse_form(
                    {"form_id": uuid.uuid4().hex, **CONFIRM}, may_bank=False, may_list_host=False
                ),
                ana,
                settings=settings,
                now=NOW,
            )


def test_reversing_a_confirmation_cancels_notices_and_delists(
    client: TestClient, database: Database, settings: Settings
) -> None:
    case_id = make_case(database, settings, "http://public.example/p", photos=[photo()])
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    assert post_assessment(client, case_id, csrf, **CONFIRM).status_code == 303
    assert state_of(database, case_id) is CaseState.CONFIRMED
    with database.transaction() as session:
        case = cases.get_case(session, case_id)
        entry = entries.add_entry(
            session, "public.example/p", actor=ACTOR, reason="abroad", now=NOW, case=case
        )
        entry_id = entry.id
    # Reversing a confirmed decision waits for a second person.
    post_assessment(client, case_id, csrf, **NOT_ILLEGAL)
    assert state_of(database, case_id) is CaseState.CONFIRMED
    [approval] = approvals_of(database, case_id)
    assert approval.action == "reverse_decision"
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        assert decide(other, ben_csrf, approval, "approve", "agreed").status_code == 303
    assert state_of(database, case_id) is CaseState.NOT_ILLEGAL
    with database.sessions() as session:
        withdrawn = session.get_one(UrlEntry, entry_id)
        assert withdrawn.status is EntryStatus.WITHDRAWN
        assert withdrawn.withdrawn_reason == "the confirmation was reversed"


def test_nothing_goes_out_for_a_reversed_case(database: Database, settings: Settings) -> None:
    """Police clearing (or their wait ending) after a reversal starts no step: no notice, no
    listing, for a case now called not illegal."""
    with database.transaction() as session:
        case = confirmed_case(session, "http://abroad.example/r.jpg")
        trace = add_trace(session, case, trace_data(DE_HOST))
        route_case(session, case, trace, settings=settings, now=NOW, actor=SYSTEM)
        route = current_route(session, case.id)
        assert route is not None
        assert list(route_steps(session, route.id))  # a route with something to do
        case.state = CaseState.NOT_ILLEGAL  # reversed (the transition is tested above)
        assert steps.advance(session, case, settings=settings, now=NOW) == []
        assert notices.case_notices(session, case.id) == []
        assert entries.case_entries(session, case.id) == []
        case.state = CaseState.CONFIRMED  # the same route does act for a confirmed case
        assert steps.advance(session, case, settings=settings, now=NOW) != []
