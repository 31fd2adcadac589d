"""Appeals: filing, the staff API with its four-eyes rule, and telling the appellant.

Hosts are fictional (``example.test``); nothing is fetched. Staff are signed in through the
real login, each in a client of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import takedown.flow.appeals  # noqa: F401 - registers lists.appeal_tell for the worker
from takedown.audit.models import AuditRecord
from takedown.auth import service as auth
from takedown.auth.models import Role, User
from takedown.auth.principal import Principal
from takedown.cases import service as cases
from takedown.cases.models import Case
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import Job
from takedown.jobs.registry import load_handlers
from takedown.jobs.worker import Worker
from takedown.lists import appeals, entries
from takedown.lists.models import Appeal, AppealStatus, EntryStatus, UrlEntry
from takedown.sandbox.smtp import SmtpSink
from tests.factories import NOW, credentials, user
from tests.notices.support import sent_notice
from tests.routing.support import confirmed_case

LISTED_DIR = "example.test/dir/"
BLOCKED_PAGE = "http://example.test/dir/photos/page.html"
CONTACT = "someone@mail.example.test"
HOSTILE = "<script>alert('x')</script>"


# -- helpers, shared with test_views -----------------------------------------------------------


def staff(app: FastAPI, database: Database, username: str, role: Role) -> TestClient:
    """A client signed in as a new user ``username`` of ``role``, sending its CSRF token."""
    user(database, username, role)
    client = TestClient(app, base_url="http://testserver")
    response = client.post("/api/v1/auth/login", json=credentials(client, database, username))
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def as_user(session: Session, username: str) -> Principal:
    """The principal of an existing user, as the API would see them."""
    found = session.scalars(select(User).where(User.username == username)).one()
    return auth.principal_for(found)


def list_directory(database: Database, by: str, expression: str = LISTED_DIR) -> uuid.UUID:
    """A confirmed case whose directory ``by`` (an existing user) put on the list."""
    with database.transaction() as session:
        case = confirmed_case(session, f"http://{expression}index.html")
        entry = entries.add_entry(
            session, expression, actor=as_user(session, by), reason="test", now=NOW, case=case
        )
        return entry.id


def blocked_form(**overrides: str) -> dict[str, str]:
    return {
        "subject": "blocked_url",
        "url": BLOCKED_PAGE,
        "network": "Example Broadband",
        "seen_at": "this morning",
        "contact": CONTACT,
        "reasons": "It is my own photo album of our garden.",
    } | overrides


def file_blocked(client: TestClient, **overrides: str) -> str:
    """File a blocked-page appeal through the public form; its reference."""
    response = client.post("/appeal", data=blocked_form(**overrides), follow_redirects=False)
    assert response.status_code == 303, response.text
    reference = response.headers["location"].split("reference=")[1]
    assert appeals.REFERENCE_PATTERN.match(reference)
    return reference


def load_appeal(database: Database, reference: str) -> Appeal:
    with database.sessions() as session:
        return appeals.get_appeal(session, reference)


def load_entry(database: Database, entry_id: uuid.UUID) -> UrlEntry:
    with database.sessions() as session:
        return session.get_one(UrlEntry, entry_id)


# -- fixtures ----------------------------------------------------------------------------------


@dataclass
class Staff:
    analyst: TestClient
    supervisor: TestClient  # "sup-a": adds entries in the four-eyes tests
    other: TestClient  # "sup-b": took no part


@pytest.fixture
def people(app: FastAPI, database: Database) -> Iterator[Staff]:
    signed_in = Staff(
        analyst=staff(app, database, "ana", Role.ANALYST),
        supervisor=staff(app, database, "sup-a", Role.SUPERVISOR),
        other=staff(app, database, "sup-b", Role.SUPERVISOR),
    )
    yield signed_in
    for client in (signed_in.analyst, signed_in.supervisor, signed_in.other):
        client.close()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": sink.host,
            "smtp_port": sink.port,
            "smtp_timeout": 10.0,
            "hotline_name": "Example Hotline",
            "hotline_email": "hotline@hotline.example.test",
            "hotline_domain": "hotline.example.test",
        }
    )


def worker(database: Database, settings: Settings) -> Worker:
    return Worker(database, settings, clock=FrozenClock(NOW), registry=load_handlers(settings))


# -- filing ------------------------------------------------------------------------------------


def test_an_appeal_links_the_live_entry_of_a_listed_directory(
    client: TestClient, database: Database, people: Staff
) -> None:
    entry_id = list_directory(database, by="ana")
    list_directory(database, by="ana", expression="other.example.test/dir/")

    reference = file_blocked(client)

    appeal = load_appeal(database, reference)
    assert appeal.status is AppealStatus.OPEN
    assert appeal.entry_ids == [str(entry_id)]
    assert appeal.urls == [BLOCKED_PAGE]
    assert (appeal.network, appeal.seen_at, appeal.contact) == (
        "Example Broadband",
        "this morning",
        CONTACT,
    )
    with database.sessions() as session:
        [record] = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "appeal.file")
        ).all()
    # The audit log cannot be edited later: no personal data goes in it.
    assert CONTACT not in str(record.details)
    assert record.details["entry_ids"] == [str(entry_id)]


def test_an_appeal_about_an_unlisted_page_is_kept_without_entries(
    client: TestClient, database: Database
) -> None:
    reference = file_blocked(client, url="http://unlisted.example.test/a.html")
    assert load_appeal(database, reference).entry_ids == []


def test_a_notice_appeal_links_the_entries_of_the_notices_case(
    client: TestClient, database: Database, settings: Settings, people: Staff
) -> None:
    with database.transaction() as session:
        notice = sent_notice(session, settings, url="http://files.example.test/album/1")
        case = session.get_one(Case, notice.case_id)
        entry = entries.add_entry(
            session,
            "files.example.test/album/1",
            actor=as_user(session, "ana"),
            reason="test",
            now=NOW,
            case=case,
        )
        entry_id, notice_reference = entry.id, notice.reference

    response = client.post(
        "/appeal",
        data={
            "subject": "notice",
            "notice_reference": notice_reference.lower(),
            "urls": "http://files.example.test/album/1\n\nhttp://files.example.test/album/2\n",
            "contact": "abuse@hosting.example.test",
            "reasons": "The album was removed yesterday.",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    appeal = load_appeal(database, response.headers["location"].split("reference=")[1])
    assert appeal.notice_reference == notice_reference
    assert appeal.urls == [
        "http://files.example.test/album/1",
        "http://files.example.test/album/2",
    ]
    assert appeal.entry_ids == [str(entry_id)]


# -- the staff API -----------------------------------------------------------------------------


def test_analysts_may_not_use_the_appeals_api(
    client: TestClient, database: Database, people: Staff
) -> None:
    reference = file_blocked(client)
    analyst = people.analyst
    assert analyst.get("/api/v1/appeals").status_code == 403
    assert analyst.get(f"/api/v1/appeals/{reference}").status_code == 403
    assert analyst.post(f"/api/v1/appeals/{reference}/delist", json={}).status_code == 403
    decided = analyst.post(
        f"/api/v1/appeals/{reference}/decide", json={"outcome": "upheld", "note": "n"}
    )
    assert decided.status_code == 403
    assert "lists:publish" in decided.json()["detail"]
    # Nor the public.
    assert client.get("/api/v1/appeals").status_code == 401
    assert load_appeal(database, reference).status is AppealStatus.OPEN


def test_the_supervisor_who_listed_the_entry_cannot_decide_another_can(
    client: TestClient, database: Database, people: Staff
) -> None:
    entry_id = list_directory(database, by="sup-a")
    reference = file_blocked(client)
    body = {"outcome": "upheld", "note": "An ordinary garden album."}

    for path, payload in (("delist", {}), ("decide", body)):
        refused = people.supervisor.post(f"/api/v1/appeals/{reference}/{path}", json=payload)
        assert refused.status_code == 403
        assert "four eyes" in refused.json()["detail"]
        assert f"added {LISTED_DIR}" in refused.json()["detail"]
    assert load_entry(database, entry_id).status is EntryStatus.ACTIVE
    assert load_appeal(database, reference).status is AppealStatus.OPEN

    decided = people.other.post(f"/api/v1/appeals/{reference}/decide", json=body)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld"
    assert decided.json()["decided_by"] == "sup-b"


def test_the_second_person_on_a_host_entry_cannot_decide_either(
    client: TestClient, database: Database, people: Staff
) -> None:
    with database.transaction() as session:
        entry = entries.add_entry(
            session, "example.test/", actor=as_user(session, "ana"), reason="t", now=NOW
        )
        entries.approve(session, entry, actor=as_user(session, "sup-a"), now=NOW)
    reference = file_blocked(client)
    refused = people.supervisor.post(f"/api/v1/appeals/{reference}/delist", json={})
    assert refused.status_code == 403
    assert "approved example.test/" in refused.json()["detail"]


def test_who_confirmed_the_notices_case_cannot_decide(
    client: TestClient, database: Database, settings: Settings, people: Staff
) -> None:
    with database.transaction() as session:
        notice = sent_notice(session, settings, url="http://files.example.test/album/9")
        case = session.get_one(Case, notice.case_id)
        # What cases.service.transition writes when a person confirms a case.
        cases.add_event(
            session,
            case,
            "state_changed",
            "Awaiting assessment → Confirmed",
            actor="sup-a",
            at=NOW,
            data={"from": "awaiting_assessment", "to": "confirmed"},
        )
        notice_reference = notice.reference
    response = client.post(
        "/appeal",
        data={
            "subject": "notice",
            "notice_reference": notice_reference,
            "urls": "http://files.example.test/album/9",
            "contact": "abuse@hosting.example.test",
            "reasons": "Not what you think.",
        },
        follow_redirects=False,
    )
    reference = response.headers["location"].split("reference=")[1]
    body = {"outcome": "rejected", "note": "Confirmed again."}
    refused = people.supervisor.post(f"/api/v1/appeals/{reference}/decide", json=body)
    assert refused.status_code == 403
    assert "confirmed case" in refused.json()["detail"]
    assert people.other.post(f"/api/v1/appeals/{reference}/decide", json=body).status_code == 200


def test_delist_suspends_and_upheld_withdraws(
    client: TestClient, database: Database, people: Staff
) -> None:
    entry_id = list_directory(database, by="ana")
    reference = file_blocked(client)

    delisted = people.other.post(f"/api/v1/appeals/{reference}/delist", json={"note": "checking"})
    assert delisted.status_code == 200, delisted.text
    assert delisted.json()["status"] == "delisted"
    assert delisted.json()["entries"][0]["status"] == "suspended"
    assert load_entry(database, entry_id).status is EntryStatus.SUSPENDED
    again = people.other.post(f"/api/v1/appeals/{reference}/delist", json={})
    assert again.status_code == 409

    decided = people.other.post(
        f"/api/v1/appeals/{reference}/decide",
        json={"outcome": "upheld", "note": "Garden photos only."},
    )
    assert decided.status_code == 200, decided.text
    entry = load_entry(database, entry_id)
    assert entry.status is EntryStatus.WITHDRAWN
    assert entry.withdrawn_reason == "appeal upheld"
    assert entry.withdrawn_by == "sup-b"
    appeal = load_appeal(database, reference)
    assert (appeal.status, appeal.decided_by, appeal.decided_at) == (
        AppealStatus.UPHELD,
        "sup-b",
        NOW,
    )
    assert appeal.decision_note == "Garden photos only."
    with database.sessions() as session:
        actions = set(session.scalars(select(AuditRecord.action)).all())
        [tell] = session.scalars(select(Job).where(Job.name == appeals.TELL_JOB)).all()
    assert {"appeal.file", "appeal.delist", "appeal.decide", "list.suspend", "list.withdraw"} <= (
        actions
    )
    assert tell.payload == {"appeal_id": str(appeal.id)}


def test_rejected_reinstates_the_suspended_entry_and_a_second_decision_is_409(
    client: TestClient, database: Database, people: Staff
) -> None:
    entry_id = list_directory(database, by="ana")
    reference = file_blocked(client)
    assert people.other.post(f"/api/v1/appeals/{reference}/delist", json={}).status_code == 200

    body = {"outcome": "rejected", "note": "The directory still holds listed material."}
    decided = people.other.post(f"/api/v1/appeals/{reference}/decide", json=body)
    assert decided.status_code == 200, decided.text
    assert load_entry(database, entry_id).status is EntryStatus.ACTIVE
    assert load_appeal(database, reference).status is AppealStatus.REJECTED

    twice = people.other.post(
        f"/api/v1/appeals/{reference}/decide", json={"outcome": "upheld", "note": "changed mind"}
    )
    assert twice.status_code == 409
    assert "already decided" in twice.json()["detail"]
    assert load_entry(database, entry_id).status is EntryStatus.ACTIVE


def test_rejecting_one_appeal_keeps_an_entry_another_appeal_holds_suspended(
    client: TestClient, database: Database, people: Staff
) -> None:
    entry_id = list_directory(database, by="ana")
    first, second = file_blocked(client), file_blocked(client)
    assert people.other.post(f"/api/v1/appeals/{first}/delist", json={}).status_code == 200
    assert people.other.post(f"/api/v1/appeals/{second}/delist", json={}).status_code == 200
    body = {"outcome": "rejected", "note": "n"}
    assert people.other.post(f"/api/v1/appeals/{first}/decide", json=body).status_code == 200
    assert load_entry(database, entry_id).status is EntryStatus.SUSPENDED


def test_list_filters_by_status_and_get_shows_the_entries(
    client: TestClient, database: Database, people: Staff
) -> None:
    list_directory(database, by="ana")
    open_one, decided_one = file_blocked(client), file_blocked(client)
    people.other.post(
        f"/api/v1/appeals/{decided_one}/decide", json={"outcome": "rejected", "note": "n"}
    )

    listed = people.other.get("/api/v1/appeals", params={"status": "open"})
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    [item] = listed.json()["items"]
    assert (item["reference"], item["entry_count"], item["url_count"]) == (open_one, 1, 1)
    assert people.other.get("/api/v1/appeals").json()["total"] == 2

    shown = people.other.get(f"/api/v1/appeals/{open_one}").json()
    assert shown["entries"][0]["expression"] == LISTED_DIR
    assert shown["entries"][0]["added_by"] == "ana"
    assert people.other.get("/api/v1/appeals/AP-00000-00000").status_code == 404


def test_a_hostile_reason_is_stored_as_is_and_returned_as_json_data(
    client: TestClient, database: Database, people: Staff
) -> None:
    reference = file_blocked(client, reasons=HOSTILE, network=f"<b>{HOSTILE}</b>")
    assert load_appeal(database, reference).reasons == HOSTILE

    response = people.other.get(f"/api/v1/appeals/{reference}")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["reasons"] == HOSTILE
    # The confirmation page shows the reference only, never what was written.
    done = client.get(f"/appeal/done?reference={reference}")
    assert "<script" not in done.text
    assert reference in done.text


def test_decide_needs_a_known_outcome_and_a_note(
    client: TestClient, database: Database, people: Staff
) -> None:
    reference = file_blocked(client)
    url = f"/api/v1/appeals/{reference}/decide"
    assert people.other.post(url, json={"outcome": "maybe", "note": "n"}).status_code == 422
    assert people.other.post(url, json={"outcome": "upheld", "note": ""}).status_code == 422
    assert load_appeal(database, reference).status is AppealStatus.OPEN


# -- telling the appellant ---------------------------------------------------------------------


def test_the_appellant_is_told_once_even_if_the_job_runs_twice(
    client: TestClient,
    database: Database,
    mail_settings: Settings,
    sink: SmtpSink,
    people: Staff,
) -> None:
    list_directory(database, by="ana")
    reference = file_blocked(client)
    note = "Internal: cross-checked with case notes by sup-b."
    decided = people.other.post(
        f"/api/v1/appeals/{reference}/decide", json={"outcome": "upheld", "note": note}
    )
    assert decided.status_code == 200

    assert worker(database, mail_settings).run_once()
    [received] = sink.wait_for(1)
    assert received.rcpt_tos == [CONTACT]
    assert reference in received.subject
    assert "upheld" in received.subject
    assert received.reference == reference
    assert received.html is None
    text = received.text or ""
    assert reference in text
    assert "Outcome: upheld." in text
    assert note not in text
    assert BLOCKED_PAGE not in text
    appeal = load_appeal(database, reference)
    assert appeal.told_at == NOW

    # A second job for the same appeal (queued by hand) sends nothing.
    with database.transaction() as session:
        jobs.enqueue(session, appeals.TELL_JOB, {"appeal_id": str(appeal.id)}, run_at=NOW)
    assert worker(database, mail_settings).run_once()
    assert len(sink.messages()) == 1
    with database.sessions() as session:
        told = session.scalars(select(AuditRecord).where(AuditRecord.action == "appeal.tell"))
        [record] = told.all()
    assert CONTACT not in str(record.details)


def test_a_temporary_failure_is_retried_and_leaves_the_appellant_untold(
    client: TestClient,
    database: Database,
    mail_settings: Settings,
    sink: SmtpSink,
    people: Staff,
) -> None:
    reference = file_blocked(client)
    people.other.post(
        f"/api/v1/appeals/{reference}/decide", json={"outcome": "rejected", "note": "n"}
    )
    sink.fail_next(1, 451)
    assert worker(database, mail_settings).run_once()
    assert sink.messages() == []
    assert load_appeal(database, reference).told_at is None
    with database.sessions() as session:
        [job] = session.scalars(select(Job).where(Job.name == appeals.TELL_JOB)).all()
    assert job.last_error
    assert "451" in job.last_error
    assert CONTACT not in job.last_error
