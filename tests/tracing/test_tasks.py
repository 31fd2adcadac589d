"""The ``cases.trace`` job: trace a confirmed case, keep the trace, route it or retry later.

The handler runs in the test's session, as a worker would run it, against the sandbox's DNS
and RDAP servers on loopback.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.auth.principal import SYSTEM
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.flow.tracing import TRACE_JOB, trace_case
from takedown.jobs.models import Job
from takedown.jobs.registry import JobContext
from takedown.routing.models import Route
from takedown.sandbox.dns import AuthoritativeDnsServer
from takedown.sandbox.rdap import RdapServer
from takedown.tracing.models import Trace, TraceStatus
from takedown.tracing.service import request_trace
from tests.routing.support import confirmed_case
from tests.tracing.dns_support import dns_server_fixture
from tests.tracing.rdap_support import rdap_server

__all__ = ["dns_server_fixture", "rdap_server"]  # fixtures, imported for pytest to find

HOST = "www.example.test"
URL = f"http://{HOST}/a.jpg"
PUBLIC_IP = "193.0.6.139"  # known to the offline dataset; never contacted
RETRY = timedelta(hours=2)


@pytest.fixture
def job_settings(
    settings: Settings, dns_server: AuthoritativeDnsServer, rdap_server: RdapServer
) -> Settings:
    return settings.model_copy(
        update={
            "dns_nameservers": [dns_server.host],
            "dns_port": dns_server.port,
            "dns_timeout": 2.0,
            "rdap_base_url": rdap_server.base_url,
            "rdap_rate_per_second": 1000.0,
            "trace_retry_interval": RETRY,
            "trace_retry_limit": 3,
        }
    )


class Runner:
    """Runs the handler as a worker would: in the given session, at the clock's time."""

    def __init__(
        self, session: Session, database: Database, settings: Settings, clock: FrozenClock
    ) -> None:
        self.session, self.database, self.settings, self.clock = session, database, settings, clock

    def __call__(self, case: Case, **payload: Any) -> None:
        ctx = JobContext(
            session=self.session,
            settings=self.settings,
            clock=self.clock,
            job_id=uuid.uuid4(),
            attempt=1,
            name=TRACE_JOB,
            database=self.database,
        )
        trace_case(ctx, {"case_id": str(case.id), **payload})
        self.session.flush()


@pytest.fixture
def run(db: Session, database: Database, job_settings: Settings, clock: FrozenClock) -> Runner:
    return Runner(db, database, job_settings, clock)


def traces(db: Session, case: Case) -> list[Trace]:
    return list(db.scalars(select(Trace).where(Trace.case_id == case.id).order_by(Trace.traced_at)))


def trace_jobs(db: Session) -> list[Job]:
    return list(db.scalars(select(Job).where(Job.name == TRACE_JOB).order_by(Job.run_at)))


def routes(db: Session, case: Case) -> list[Route]:
    return list(db.scalars(select(Route).where(Route.case_id == case.id)))


@pytest.mark.parametrize(
    "state", [CaseState.NEW, CaseState.AWAITING_ASSESSMENT, CaseState.NOT_ILLEGAL, CaseState.CLOSED]
)
def test_only_confirmed_cases_are_traced(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer, state: CaseState
) -> None:
    dns_server.set(HOST, "A", PUBLIC_IP)
    case = confirmed_case(db, URL)
    case.state = state

    run(case)

    assert traces(db, case) == []
    assert routes(db, case) == []
    assert trace_jobs(db) == []
    assert dns_server.queries == 0


def test_a_confirmed_case_gets_a_trace_and_a_route(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer, clock: FrozenClock
) -> None:
    dns_server.set(HOST, "A", PUBLIC_IP)
    case = confirmed_case(db, URL)

    run(case)

    [trace] = traces(db, case)
    assert (trace.host, trace.status, trace.attempt) == (HOST, TraceStatus.PARTIAL, 1)
    assert trace.traced_at == clock.now()
    assert trace.countries == "NL"
    assert trace.data["addresses"][0]["ip"] == PUBLIC_IP
    assert trace.evidence, "the evidence is kept with the trace"
    [route] = routes(db, case)
    assert route.trace_id == trace.id
    events = db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert "traced" in events
    assert trace_jobs(db) == []  # resolved: no retry


def test_origin_addresses_in_the_payload_are_traced(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer
) -> None:
    dns_server.set(HOST, "A", "192.0.2.10")
    case = confirmed_case(db, URL)

    run(case, origin=[PUBLIC_IP])

    [trace] = traces(db, case)
    assert [fact["ip"] for fact in trace.data["origin"]] == [PUBLIC_IP]
    assert trace.countries == "NL"  # where the origin is


def test_an_unresolved_host_is_retried_later(run: Runner, db: Session, clock: FrozenClock) -> None:
    case = confirmed_case(db, URL)  # the name does not exist

    run(case)

    [trace] = traces(db, case)
    assert (trace.status, trace.attempt) == (TraceStatus.UNRESOLVED, 1)
    assert routes(db, case) == []
    [job] = trace_jobs(db)
    assert job.payload == {"case_id": str(case.id), "attempt": 2, "after": str(trace.id)}
    assert job.run_at == clock.now() + RETRY


def test_a_host_with_only_private_addresses_is_retried_too(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer, clock: FrozenClock
) -> None:
    dns_server.set(HOST, "A", "10.1.2.3")
    case = confirmed_case(db, URL)

    run(case)

    [trace] = traces(db, case)
    assert trace.status is TraceStatus.PRIVATE
    [job] = trace_jobs(db)
    assert job.payload["after"] == str(trace.id)
    assert job.run_at == clock.now() + RETRY


def test_a_retry_that_resolves_is_routed_and_ends_the_chain(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer, clock: FrozenClock
) -> None:
    case = confirmed_case(db, URL)
    run(case)
    [retry] = trace_jobs(db)
    dns_server.set(HOST, "A", PUBLIC_IP)  # the site is back
    clock.advance(RETRY)

    run(case, **{k: v for k, v in retry.payload.items() if k != "case_id"})

    first, second = traces(db, case)
    assert first.status is TraceStatus.UNRESOLVED
    assert (second.status, second.attempt) == (TraceStatus.PARTIAL, 2)
    [route] = routes(db, case)
    assert route.trace_id == second.id
    assert trace_jobs(db) == [retry]  # no further retry


def test_a_stale_retry_does_nothing(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer, clock: FrozenClock
) -> None:
    case = confirmed_case(db, URL)
    run(case)
    [first] = traces(db, case)
    # Traced again meanwhile (an analyst asked): the pending retry follows an old trace.
    clock.advance(timedelta(minutes=5))
    run(case)
    assert len(traces(db, case)) == 2
    jobs_before = trace_jobs(db)
    queries = dns_server.queries
    clock.advance(RETRY)

    run(case, attempt=2, after=str(first.id))

    assert len(traces(db, case)) == 2
    assert trace_jobs(db) == jobs_before
    assert dns_server.queries == queries


def test_a_retry_after_a_trace_that_is_gone_does_nothing(run: Runner, db: Session) -> None:
    case = confirmed_case(db, URL)

    run(case, attempt=2, after=str(uuid.uuid4()))

    assert traces(db, case) == []
    assert trace_jobs(db) == []


def test_the_retry_limit_ends_the_chain(
    run: Runner, db: Session, job_settings: Settings, clock: FrozenClock
) -> None:
    case = confirmed_case(db, URL)
    run(case)
    limit = job_settings.trace_retry_limit
    for _ in range(limit + 2):  # more than the chain can take
        pending = [j for j in trace_jobs(db) if j.run_at > clock.now()]
        if not pending:
            break
        [job] = pending
        clock.advance(RETRY)
        run(case, attempt=job.payload["attempt"], after=job.payload["after"])

    # The first trace and ``limit`` retries.
    assert [t.attempt for t in traces(db, case)] == list(range(1, limit + 2))
    assert [j.payload["attempt"] for j in trace_jobs(db)] == list(range(2, limit + 2))
    assert all(t.status is TraceStatus.UNRESOLVED for t in traces(db, case))


def test_a_trace_requested_on_demand_is_queued_now(db: Session) -> None:
    case = confirmed_case(db, URL)

    job_id = request_trace(db, case.id, [PUBLIC_IP])

    [job] = trace_jobs(db)
    assert job.id == job_id
    assert job.payload == {"case_id": str(case.id), "origin": [PUBLIC_IP]}


def awaiting(db: Session) -> Case:
    case = confirmed_case(db, URL)
    case.state = CaseState.AWAITING_ASSESSMENT
    db.flush()
    return case


def test_confirming_a_case_enqueues_its_trace(
    run: Runner, db: Session, dns_server: AuthoritativeDnsServer, clock: FrozenClock
) -> None:
    case = awaiting(db)
    now: datetime = clock.now()

    cases.transition(db, case, CaseState.CONFIRMED, SYSTEM, now=now)
    db.flush()

    [job] = trace_jobs(db)
    assert job.payload == {"case_id": str(case.id)}
    assert job.run_at == now
    # And the job it enqueued traces the case.
    dns_server.set(HOST, "A", PUBLIC_IP)
    run(case, **{k: v for k, v in job.payload.items() if k != "case_id"})
    assert [t.status for t in traces(db, case)] == [TraceStatus.PARTIAL]


def test_other_verdicts_enqueue_no_trace(db: Session, clock: FrozenClock) -> None:
    case = awaiting(db)

    cases.transition(db, case, CaseState.NOT_ILLEGAL, SYSTEM, now=clock.now())
    db.flush()

    assert trace_jobs(db) == []
