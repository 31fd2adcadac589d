"""Assessing a case from the console: verdicts, the case's next state, validation, double
submission, hashes into a bank, and listing a whole host."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from takedown.assessment import queue
from takedown.audit.models import AuditRecord
from takedown.auth.models import Role
from takedown.cases.models import CaseEvent, CaseItem, CaseState, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs.models import Job
from takedown.lists.models import EntryStatus, UrlEntry
from takedown.matching import banks, hash_bytes
from takedown.matching.lookup import index_of, match_hashes
from takedown.matching.models import BankEntry, BankRole
from tests.console.support import sign_in
from tests.console.test_queue import events_of, make_case, photo, state_of
from tests.factories import ACTOR, NOW

CONFIRM = {"decision": "confirm", "inhope": "baseline", "media": "photographic"}


def post_assessment(
    client: TestClient, case_id: uuid.UUID, csrf: str, *, htmx: bool = False, **fields: str
) -> Any:
    data = {"csrf_token": csrf, "form_id": uuid.uuid4().hex, "scope": "all"} | fields
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/console/cases/{case_id}/assess", data=data, headers=headers, follow_redirects=False
    )


def items_of(database: Database, case_id: uuid.UUID) -> list[CaseItem]:
    with database.sessions() as session:
        query = select(CaseItem).where(CaseItem.case_id == case_id).order_by(CaseItem.url)
        return list(session.scalars(query))


def count_events(database: Database, case_id: uuid.UUID) -> int:
    with database.sessions() as session:
        query = select(func.count()).where(CaseEvent.case_id == case_id)
        return session.scalar(query) or 0


def trace_jobs(database: Database, case_id: uuid.UUID) -> int:
    with database.sessions() as session:
        jobs = session.scalars(select(Job).where(Job.name == "cases.trace"))
        return sum(1 for j in jobs if j.payload.get("case_id") == str(case_id))


@pytest.fixture
def two_photos(database: Database, settings: Settings) -> uuid.UUID:
    return make_case(
        database, settings, "http://site.example/gallery", photos=[photo(), photo("q0004.jpg")]
    )


@pytest.fixture
def bank(database: Database) -> str:
    """A block-list bank to add to, and an allow list that must not be offered."""
    with database.transaction() as session:
        banks.create_bank(session, ACTOR, name="console-known", now=NOW)
        banks.create_bank(session, ACTOR, name="console-allow", role=BankRole.ALLOW_LIST, now=NOW)
    return "console-known"


# -- confirming, not illegal, second opinion ----------------------------------------------


def test_confirm_moves_the_case_on_and_queues_tracing(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = post_assessment(
        client, two_photos, csrf, **CONFIRM, uk_category="A", industry="A1", age_band="3-6"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/console/queue?done=confirmed&case={two_photos}"
    assert state_of(database, two_photos) is CaseState.CONFIRMED
    assert trace_jobs(database, two_photos) == 1
    code = "inhope=baseline;uk=A;ind=A1;age=3-6;media=photographic"
    for item in items_of(database, two_photos):
        assert (item.verdict, item.classification, item.automatic) == (
            ItemVerdict.CONFIRMED,
            code,
            False,
        )
    with database.sessions() as session:
        [assessed] = events_of(session, two_photos, "assessed")
        assert assessed.actor == "c-analyst"
        assert assessed.data["classification"]["uk_category"] == "A"
        audit = session.scalars(select(AuditRecord).where(AuditRecord.action == "case.assess"))
        assert [a.object_id for a in audit] == [str(two_photos)]
    banner = client.get(response.headers["location"]).text
    assert "Case confirmed" in banner


def test_not_illegal_on_a_public_report(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = post_assessment(
        client, two_photos, csrf, decision="not_illegal", note="a benign test photo"
    )
    assert response.headers["location"] == f"/console/queue?done=not_illegal&case={two_photos}"
    assert state_of(database, two_photos) is CaseState.NOT_ILLEGAL
    assert {i.verdict for i in items_of(database, two_photos)} == {ItemVerdict.NOT_ILLEGAL}
    assert {i.classification for i in items_of(database, two_photos)} == {"inhope=not_illegal"}
    assert trace_jobs(database, two_photos) == 0


def test_one_item_at_a_time(client: TestClient, database: Database, two_photos: uuid.UUID) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    first, second = items_of(database, two_photos)
    response = post_assessment(
        client,
        two_photos,
        csrf,
        decision="not_illegal",
        note="a benign test photo",
        scope=str(first.id),
    )
    assert response.headers["location"].startswith("/console/queue?done=items")
    assert state_of(database, two_photos) is CaseState.AWAITING_ASSESSMENT
    assert [i.verdict for i in items_of(database, two_photos)] == [
        ItemVerdict.NOT_ILLEGAL,
        ItemVerdict.UNKNOWN,
    ]
    # The assessed item is no longer one to choose; the other one is.
    stale = post_assessment(client, two_photos, csrf, **CONFIRM, scope=str(first.id))
    assert stale.status_code == 422
    post_assessment(client, two_photos, csrf, **CONFIRM, scope=str(second.id))
    assert state_of(database, two_photos) is CaseState.CONFIRMED
    assert [i.verdict for i in items_of(database, two_photos)] == [
        ItemVerdict.NOT_ILLEGAL,
        ItemVerdict.CONFIRMED,
    ]


def test_a_second_opinion_flags_the_case_and_changes_no_state(
    client: TestClient, database: Database, clock: FrozenClock, two_photos: uuid.UUID
) -> None:
    ana, csrf = sign_in(client, database, Role.ANALYST, "ana")
    client.post("/console/queue/next", data={"csrf_token": csrf})
    # Timeline order is by time: the frozen clock must move for "later" to mean anything.
    clock.advance(timedelta(minutes=2))
    response = post_assessment(
        client,
        two_photos,
        csrf,
        decision="second_opinion",
        note="please check the second image",
        inhope="national",
    )
    assert response.headers["location"].startswith("/console/queue?done=second_opinion")
    assert state_of(database, two_photos) is CaseState.AWAITING_ASSESSMENT
    assert {i.verdict for i in items_of(database, two_photos)} == {ItemVerdict.UNKNOWN}
    with database.sessions() as session:
        [flag] = events_of(session, two_photos, queue.SECOND_OPINION)
    assert flag.data["note"] == "please check the second image"
    assert flag.data["classification"] == {"inhope": "national"}
    page = client.get("/console/queue").text
    assert "second opinion asked by ana" in page
    # The one who asked is not handed the case again; someone else is.
    assert client.post("/console/queue/next", data={"csrf_token": csrf}).url.path.endswith(
        "/console/queue"
    )
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        taken = other.post(
            "/console/queue/next", data={"csrf_token": ben_csrf}, follow_redirects=False
        )
        assert taken.headers["location"] == f"/console/cases/{two_photos}"
    assert ana.username == "ana"


# -- nothing half-saved, nothing twice ----------------------------------------------------


def test_validation_errors_change_nothing(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    before = count_events(database, two_photos)
    plain = post_assessment(client, two_photos, csrf, decision="confirm", uk_category="A")
    assert plain.status_code == 422
    assert "Assessment not saved" in plain.text
    assert "INHOPE status: Confirming needs the INHOPE status" in plain.text
    assert f'href="/console/cases/{two_photos}#assess-{two_photos}"' in plain.text
    htmx = post_assessment(client, two_photos, csrf, htmx=True, decision="not_illegal")
    # htmx swaps only 2xx answers: the form comes back with the error beside the field.
    assert htmx.status_code == 200
    assert "Say why it is not illegal" in htmx.text
    assert 'aria-invalid="true"' in htmx.text
    assert 'value="not_illegal" checked' in htmx.text
    assert state_of(database, two_photos) is CaseState.AWAITING_ASSESSMENT
    assert {i.verdict for i in items_of(database, two_photos)} == {ItemVerdict.UNKNOWN}
    assert count_events(database, two_photos) == before
    assert trace_jobs(database, two_photos) == 0


def test_a_refusal_found_half_way_undoes_what_was_written(
    client: TestClient, database: Database, two_photos: uuid.UUID, bank: str
) -> None:
    """A bank that is not a block list is refused after the form passed: nothing stays."""
    _, csrf = sign_in(client, database, Role.SUPERVISOR)
    before = count_events(database, two_photos)
    response = post_assessment(
        client, two_photos, csrf, **CONFIRM, add_to_bank="1", bank="console-allow"
    )
    assert response.status_code == 422
    assert "no enabled block-list bank" in response.text
    assert state_of(database, two_photos) is CaseState.AWAITING_ASSESSMENT
    assert count_events(database, two_photos) == before


def test_the_same_form_sent_twice_assesses_once(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    fields = {"csrf_token": csrf, "form_id": uuid.uuid4().hex, "scope": "all"} | CONFIRM
    url = f"/console/cases/{two_photos}/assess"
    first = client.post(url, data=fields, follow_redirects=False)
    again = client.post(url, data=fields, follow_redirects=False)
    assert first.headers["location"].startswith("/console/queue?done=confirmed")
    assert again.headers["location"].startswith("/console/queue?done=duplicate")
    assert "recorded already" in client.get(again.headers["location"]).text
    with database.sessions() as session:
        assert len(events_of(session, two_photos, "assessed")) == 1
    assert trace_jobs(database, two_photos) == 1


def test_htmx_success_redirects_the_whole_page(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = post_assessment(client, two_photos, csrf, htmx=True, **CONFIRM)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("/console/queue?done=confirmed")


def test_a_case_not_awaiting_assessment_is_refused(
    client: TestClient, database: Database, settings: Settings, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    post_assessment(client, two_photos, csrf, **CONFIRM)
    response = post_assessment(client, two_photos, csrf, **CONFIRM)
    assert response.status_code == 409
    assert "This case is confirmed" in response.text
    assert post_assessment(client, uuid.uuid4(), csrf, **CONFIRM).status_code == 404


def test_assessing_needs_the_role_and_the_csrf_token(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    sign_in(client, database, Role.ANALYST)
    assert post_assessment(client, two_photos, "wrong", **CONFIRM).status_code == 403
    _, csrf = sign_in(client, database, Role.POLICE)
    assert post_assessment(client, two_photos, csrf, **CONFIRM).status_code == 403
    assert state_of(database, two_photos) is CaseState.AWAITING_ASSESSMENT


# -- the form itself ----------------------------------------------------------------------


def test_the_form_offers_the_schemes_and_banks_only_to_those_who_may_add(
    client: TestClient, database: Database, two_photos: uuid.UUID, bank: str
) -> None:
    sign_in(client, database, Role.ANALYST)
    analyst = client.get(f"/console/cases/{two_photos}/assess")
    assert analyst.status_code == 200
    for text in (
        "Baseline",
        "Nationally illegal",
        "UK category",
        "A1",
        "16-17",
        "Non-photographic",
    ):
        assert text in analyst.text
    assert 'name="form_id"' in analyst.text
    assert "Item 1 only" in analyst.text
    assert "Item 2 only" in analyst.text
    assert "add_to_bank" not in analyst.text  # analysts do not curate banks
    assert 'name="list_host"' in analyst.text
    sign_in(client, database, Role.SUPERVISOR)
    supervisor = client.get(f"/console/cases/{two_photos}/assess").text
    assert '<option value="console-known"' in supervisor
    assert "console-allow" not in supervisor  # allow lists are not for assessed material


# -- hashes into a bank -------------------------------------------------------------------


def test_confirmed_hashes_go_into_the_bank_so_the_image_is_known_next_time(
    client: TestClient,
    database: Database,
    settings: Settings,
    two_photos: uuid.UUID,
    bank: str,
) -> None:
    with database.sessions() as session:
        before = match_hashes(session, hash_bytes(photo()), index=index_of(database, settings))
        assert not before.known
    _, csrf = sign_in(client, database, Role.SUPERVISOR)
    response = post_assessment(
        client, two_photos, csrf, **CONFIRM, uk_category="B", add_to_bank="1", bank=bank
    )
    assert response.status_code == 303, response.text
    with database.sessions() as session:
        entries = list(session.scalars(select(BankEntry)))
        assert {e.signal_type for e in entries} == {"md5", "sha1", "sha256", "pdq"}
        assert len(entries) == 8  # four signals of each of the two photos
        assert {e.classification for e in entries} == {"inhope=baseline;uk=B;media=photographic"}
        outcome = match_hashes(session, hash_bytes(photo()), index=index_of(database, settings))
        assert outcome.known
        assert outcome.effective[0].bank == bank
        assert outcome.effective[0].classification.startswith("inhope=baseline")


def test_an_analyst_cannot_add_to_a_bank(
    client: TestClient, database: Database, two_photos: uuid.UUID, bank: str
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    response = post_assessment(client, two_photos, csrf, **CONFIRM, add_to_bank="1", bank=bank)
    assert response.status_code == 422
    assert "banks:write" in response.text
    assert state_of(database, two_photos) is CaseState.AWAITING_ASSESSMENT
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(BankEntry)) == 0


# -- a whole host on the URL list ---------------------------------------------------------


def test_a_dedicated_site_puts_its_whole_host_on_the_list_pending_four_eyes(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    post_assessment(client, two_photos, csrf, **CONFIRM, list_host="1", note="dedicated site")
    assert state_of(database, two_photos) is CaseState.CONFIRMED
    with database.sessions() as session:
        [entry] = session.scalars(select(UrlEntry).where(UrlEntry.case_id == two_photos))
    assert (entry.expression, entry.status, entry.added_by) == (
        "site.example/",
        EntryStatus.PENDING,
        "ana",
    )
    page = client.get("/console/approvals").text
    assert "site.example/" in page
    assert "Your own proposal" in page
    own = client.post(
        f"/console/approvals/hosts/{entry.id}/approve",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert own.status_code == 403
    assert "second person" in own.text
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        done = other.post(
            f"/console/approvals/hosts/{entry.id}/approve",
            data={"csrf_token": ben_csrf},
            follow_redirects=False,
        )
        assert done.headers["location"] == "/console/approvals?done=host_approved"
    with database.sessions() as session:
        listed = session.get_one(UrlEntry, entry.id)
        assert (listed.status, listed.approved_by) == (EntryStatus.ACTIVE, "ben")


def test_a_rejected_host_is_withdrawn(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST, "ana")
    post_assessment(client, two_photos, csrf, **CONFIRM, list_host="1")
    with database.sessions() as session:
        [entry] = session.scalars(select(UrlEntry).where(UrlEntry.case_id == two_photos))
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        url = f"/console/approvals/hosts/{entry.id}/reject"
        assert other.post(url, data={"csrf_token": ben_csrf}).status_code == 422
        other.post(url, data={"csrf_token": ben_csrf, "note": "a shared forum"})
    with database.sessions() as session:
        rejected = session.get_one(UrlEntry, entry.id)
    assert rejected.status is EntryStatus.WITHDRAWN
    assert rejected.withdrawn_reason == "four eyes rejected: a shared forum"


def form_id_in(page: str) -> str:
    found = re.search(r'name="form_id" value="([0-9a-f]{32})"', page)
    assert found is not None, "the page carries no one-time form id"
    return found.group(1)


def test_the_case_page_shows_the_whole_form_in_one_load(
    client: TestClient, database: Database, two_photos: uuid.UUID, bank: str
) -> None:
    """The form comes with the page: no second request for the bank list, and a supervisor
    sees the banks there, an analyst no bank choice."""
    sign_in(client, database, Role.ANALYST)
    page = client.get(f"/console/cases/{two_photos}")
    assert page.status_code == 200
    assert f'id="assess-{two_photos}"' in page.text
    assert "hx-get" not in page.text
    assert "All 2 items to assess" in page.text
    assert "Nationally illegal" in page.text
    assert "add_to_bank" not in page.text
    sign_in(client, database, Role.SUPERVISOR)
    page = client.get(f"/console/cases/{two_photos}")
    assert "hx-get" not in page.text
    assert f'<option value="{bank}"' in page.text
    assert "console-allow" not in page.text
    # Each page gets a form id of its own.
    assert form_id_in(page.text) != form_id_in(client.get(f"/console/cases/{two_photos}").text)


def test_the_case_pages_form_sent_twice_assesses_once(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    form_id = form_id_in(client.get(f"/console/cases/{two_photos}").text)
    first = post_assessment(client, two_photos, csrf, **CONFIRM, form_id=form_id)
    assert first.headers["location"].startswith("/console/queue?done=confirmed")
    events = count_events(database, two_photos)
    again = post_assessment(client, two_photos, csrf, **CONFIRM, form_id=form_id)
    assert again.headers["location"].startswith("/console/queue?done=duplicate")
    assert count_events(database, two_photos) == events


def test_a_refused_form_comes_back_with_its_form_id(
    client: TestClient, database: Database, two_photos: uuid.UUID
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    form_id = uuid.uuid4().hex
    refused = post_assessment(
        client, two_photos, csrf, htmx=True, decision="confirm", form_id=form_id
    )
    assert refused.status_code == 200
    assert "Nothing was saved" in refused.text
    assert form_id_in(refused.text) == form_id


def test_templates_have_no_console_globals() -> None:
    """Every view passes the form's context itself; nothing is registered at import time."""
    import takedown.console.routes  # noqa: F401  (imports every view module)
    from takedown.web.templating import TEMPLATES

    leaked = {"new_form_id", "assess_schemes", "assess_decisions"} & set(TEMPLATES.env.globals)
    assert leaked == set()


def test_a_case_without_media_is_decided_on_its_url(
    client: TestClient, database: Database, settings: Settings, bank: str
) -> None:
    case_id = make_case(database, settings, "http://text.example/story")
    _, csrf = sign_in(client, database, Role.SUPERVISOR)
    assert (
        "the decision is about the URL itself"
        in client.get(f"/console/cases/{case_id}/assess").text
    )
    refused = post_assessment(client, case_id, csrf, **CONFIRM, add_to_bank="1", bank=bank)
    assert refused.status_code == 422
    assert "no captured items" in refused.text
    post_assessment(client, case_id, csrf, **CONFIRM)
    assert state_of(database, case_id) is CaseState.CONFIRMED
