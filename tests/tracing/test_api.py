"""GET and POST /api/v1/cases/{id}/trace: staff read a case's trace and ask for a new one."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from takedown.auth.models import Role
from takedown.auth.permissions import KEY_SCOPES
from takedown.cases import service as cases
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.flow.tracing import TRACE_JOB
from takedown.jobs.models import Job
from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.tracing import service
from takedown.tracing.build import build_tracer
from takedown.tracing.rdap import RdapClient
from tests import factories
from tests.factories import bearer, login
from tests.routing.support import confirmed_case
from tests.tracing.dns_support import dns_server_fixture

__all__ = ["dns_server_fixture"]  # a fixture, imported for pytest to find

HOST = "www.example.test"
PUBLIC_IP = "193.0.6.139"  # known to the offline dataset; never contacted


def path(case_id: object) -> str:
    return f"/api/v1/cases/{case_id}/trace"


@pytest.fixture
def case_id(database: Database) -> uuid.UUID:
    with database.transaction() as session:
        return confirmed_case(session, f"http://{HOST}/a.jpg").id


@pytest.fixture
def traced(
    database: Database,
    settings: Settings,
    dns_server: AuthoritativeDnsServer,
    clock: FrozenClock,
    case_id: uuid.UUID,
) -> uuid.UUID:
    """``case_id`` with one trace, made by the real tracer (RDAP off) and stored."""
    dns_server.set(HOST, "CNAME", "web.example.test")
    dns_server.set("web.example.test", "A", PUBLIC_IP)
    tracer = build_tracer(
        settings.model_copy(
            update={
                "dns_nameservers": [dns_server.host],
                "dns_port": dns_server.port,
                "rdap_base_url": "",
            }
        )
    )
    assert not isinstance(tracer.rdap, RdapClient)
    with database.transaction() as session:
        case = cases.get_case(session, case_id)
        outcome = tracer.trace(session, HOST, now=clock.now())
        return service.store(session, case, outcome, now=clock.now()).id


def trace_jobs(database: Database) -> list[Job]:
    with database.sessions() as session:
        return list(session.scalars(select(Job).where(Job.name == TRACE_JOB)))


def test_the_trace_needs_credentials(client: TestClient, case_id: uuid.UUID) -> None:
    assert client.get(path(case_id)).status_code == 401
    assert client.post(path(case_id), json={}).status_code == 401


@pytest.mark.parametrize("role", [Role.ANALYST, Role.SUPERVISOR, Role.ADMIN])
def test_staff_read_the_latest_trace(
    client: TestClient,
    database: Database,
    clock: FrozenClock,
    case_id: uuid.UUID,
    traced: uuid.UUID,
    role: Role,
) -> None:
    login(client, database, role)

    response = client.get(path(case_id))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(traced)
    assert (body["status"], body["host"], body["attempt"]) == ("partial", HOST, 1)
    assert body["countries"] == ["NL"]
    assert body["data"]["cname_chain"] == ["web.example.test"]
    assert [fact["ip"] for fact in body["data"]["addresses"]] == [PUBLIC_IP]
    assert body["summary"].startswith(f"{HOST} → web.example.test: {PUBLIC_IP} (NL")
    assert body["evidence"][0]["source"] == "dns"
    assert body["evidence"][0]["query"] == f"A/AAAA {HOST}"


def test_a_case_without_a_trace_is_not_found(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    login(client, database, Role.ANALYST)

    response = client.get(path(case_id))

    assert response.status_code == 404
    assert "has not been traced yet" in response.json()["detail"]


def test_an_unknown_case_is_not_found(client: TestClient, database: Database) -> None:
    csrf = login(client, database, Role.ANALYST)
    unknown = uuid.uuid4()

    assert client.get(path(unknown)).status_code == 404
    assert client.post(path(unknown), json={}, headers=csrf).status_code == 404
    assert trace_jobs(database) == []


@pytest.mark.parametrize("role", [Role.ANALYST, Role.SUPERVISOR])
def test_staff_ask_for_a_new_trace_with_origin_addresses(
    client: TestClient, database: Database, case_id: uuid.UUID, role: Role
) -> None:
    csrf = login(client, database, role)

    response = client.post(path(case_id), json={"origin": [PUBLIC_IP, "2001:DB8::1"]}, headers=csrf)

    assert response.status_code == 202, response.text
    [job] = trace_jobs(database)
    assert response.json() == {"job_id": str(job.id)}
    # Addresses are kept in their normal form.
    assert job.payload == {"case_id": str(case_id), "origin": [PUBLIC_IP, "2001:db8::1"]}


def test_a_new_trace_without_origin_addresses(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    csrf = login(client, database, Role.ANALYST)

    response = client.post(path(case_id), json={}, headers=csrf)

    assert response.status_code == 202, response.text
    [job] = trace_jobs(database)
    assert job.payload == {"case_id": str(case_id)}


@pytest.mark.parametrize(
    "body",
    [
        {"origin": ["999.1.1.1"]},
        {"origin": ["origin.example.test"]},
        {"origin": ["192.0.2.0/24"]},
        {"origin": "192.0.2.1"},
        {"origin": ["192.0.2.1"] * 17},
        {"origins": ["192.0.2.1"]},
    ],
)
def test_a_bad_body_is_refused_and_nothing_is_queued(
    client: TestClient, database: Database, case_id: uuid.UUID, body: object
) -> None:
    csrf = login(client, database, Role.ANALYST)

    response = client.post(path(case_id), json=body, headers=csrf)

    assert response.status_code == 422, response.text
    assert trace_jobs(database) == []


def test_the_body_must_be_json(client: TestClient, database: Database, case_id: uuid.UUID) -> None:
    csrf = login(client, database, Role.ANALYST)

    response = client.post(path(case_id), content=b"origin=192.0.2.1", headers=csrf)

    assert response.status_code == 415
    assert trace_jobs(database) == []


def test_police_do_not_ask_for_traces(
    client: TestClient, database: Database, case_id: uuid.UUID
) -> None:
    csrf = login(client, database, Role.POLICE)

    refused = client.post(path(case_id), json={}, headers=csrf)

    assert refused.status_code == 403
    assert "cases:assess" in refused.json()["detail"]
    assert trace_jobs(database) == []


def test_a_key_without_cases_read_is_refused(
    client: TestClient, database: Database, case_id: uuid.UUID, traced: uuid.UUID
) -> None:
    key = factories.api_key(database, "Flagger", scopes=("reports:write",))

    for response in (
        client.get(path(case_id), headers=bearer(key)),
        client.post(path(case_id), json={}, headers=bearer(key)),
    ):
        assert response.status_code == 403, response.text
    assert trace_jobs(database) == []


def test_a_key_with_every_scope_neither_reads_nor_asks(
    client: TestClient, database: Database, case_id: uuid.UUID, traced: uuid.UUID
) -> None:
    # Traces are the hotline's working notes: a key reading cases gets the answer for a case
    # that does not exist, and no key may ask for a trace.
    key = factories.api_key(database, "Flagger", scopes=tuple(sorted(KEY_SCOPES)))

    hidden = client.get(path(case_id), headers=bearer(key))
    refused = client.post(path(case_id), json={}, headers=bearer(key))

    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"no case {case_id}"
    assert refused.status_code == 403
    assert trace_jobs(database) == []
