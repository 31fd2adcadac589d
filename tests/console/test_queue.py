"""The assessment queue: order, filters, and "Next case" handing each analyst their own case.

Cases are made through intake and moved to ``awaiting_assessment`` as capture would, with
items hashed from benign sample photos (nothing is fetched).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.assessment import queue
from takedown.auth.models import Role
from takedown.auth.principal import PUBLIC, SYSTEM, Principal
from takedown.cases import service as cases
from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.intake import service as intake
from takedown.intake.schemas import ReportIn
from takedown.matching import hash_bytes
from tests.conftest import TESTDATA
from tests.console.support import sign_in
from tests.factories import NOW

PHOTOS = TESTDATA / "pdq" / "labelme-subset"
FLAGGER = Principal(kind="api_key", id="k-flagger", label="key:flagger", org_kind="trusted_flagger")
POLICE = Principal(kind="api_key", id="k-police", label="key:police", org_kind="police")


def photo(name: str = "q0003.jpg") -> bytes:
    return (PHOTOS / name).read_bytes()


def item_row(case: Case, data: bytes, n: int, at: datetime) -> CaseItem:
    hashed = hash_bytes(data)
    pdq = hashed.pdq
    return CaseItem(
        case_id=case.id,
        url=f"{case.url}/img{n}.jpg",
        content_type="image/jpeg",
        size=len(data),
        width=hashed.image.width if hashed.image else None,
        height=hashed.image.height if hashed.image else None,
        md5=hashed.md5,
        sha1=hashed.sha1,
        sha256=hashed.sha256,
        pdq=pdq.value if pdq else None,
        pdq_quality=pdq.quality if pdq else None,
        verdict=ItemVerdict.UNKNOWN,
        captured_at=at,
    )


def make_case(
    database: Database,
    settings: Settings,
    url: str,
    *,
    reporter: Principal = PUBLIC,
    immediate_danger: bool = False,
    at: datetime = NOW,
    photos: Sequence[bytes] = (),
) -> uuid.UUID:
    """A reported case with ``photos`` as its unknown items, awaiting assessment."""
    with database.transaction() as session:
        report = ReportIn(url=url, immediate_danger=immediate_danger)
        result = intake.submit_one(session, settings, reporter, report, now=at)
        assert result.case_id is not None
        case = session.get_one(Case, result.case_id)
        for n, data in enumerate(photos):
            session.add(item_row(case, data, n, at))
        cases.transition(session, case, CaseState.AWAITING_ASSESSMENT, SYSTEM, now=at)
        return case.id


def state_of(database: Database, case_id: uuid.UUID) -> CaseState:
    with database.sessions() as session:
        return session.get_one(Case, case_id).state


def events_of(session: Session, case_id: uuid.UUID, kind: str) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
    return list(session.scalars(query))


def next_case(client: TestClient, csrf: str) -> str:
    response = client.post("/console/queue/next", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def hosts_in_order(html: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/console/cases/[^"]+">([^<]+)</a>', html)


@pytest.fixture
def mixed(database: Database, settings: Settings) -> dict[str, uuid.UUID]:
    """Five waiting cases of every priority, and one case still being captured."""
    made = {
        "public-old": make_case(
            database, settings, "http://public-old.example/a", at=NOW - timedelta(hours=2)
        ),
        "public-new": make_case(database, settings, "http://public-new.example/a"),
        "police": make_case(database, settings, "http://police.example/a", reporter=POLICE),
        "danger": make_case(database, settings, "http://danger.example/a", immediate_danger=True),
        "trusted": make_case(
            database,
            settings,
            "http://trusted.example/a",
            reporter=FLAGGER,
            at=NOW - timedelta(hours=1),
            photos=[photo(), photo("q0004.jpg")],
        ),
    }
    with database.transaction() as session:
        intake.submit_one(
            session, settings, PUBLIC, ReportIn(url="http://capturing.example/a"), now=NOW
        )
    return made


ORDER = ["danger.example", "police.example", "trusted.example", "public-old.example"]


def test_queue_lists_waiting_cases_by_priority_then_due_time(
    client: TestClient, database: Database, mixed: dict[str, uuid.UUID]
) -> None:
    sign_in(client, database, Role.ANALYST)
    page = client.get("/console/queue")
    assert page.status_code == 200
    assert hosts_in_order(page.text) == [*ORDER, "public-new.example"]
    assert "capturing.example" not in page.text  # still new: not for analysts yet
    assert "5 cases wait for an analyst" in page.text
    # Time left, reports and unknown items are shown per case.
    assert "1 h 0 min left" in page.text  # immediate danger: one hour
    assert "22 h 0 min left" in page.text  # the public case reported two hours ago
    assert re.search(r"trusted\.example.*?<td>1</td>\s*<td>2</td>", page.text, re.S)
    assert 'accesskey="n" autofocus' in page.text


def test_an_overdue_case_says_by_how_much(
    client: TestClient, database: Database, settings: Settings
) -> None:
    make_case(database, settings, "http://late.example/a", at=NOW - timedelta(hours=25))
    sign_in(client, database, Role.ANALYST)
    page = client.get("/console/queue", params={"overdue": "1"})
    assert hosts_in_order(page.text) == ["late.example"]
    assert "overdue by 1 h 0 min" in page.text
    assert 'class="badge due"' in page.text


def test_filters_narrow_the_queue(
    client: TestClient, database: Database, mixed: dict[str, uuid.UUID]
) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)

    def shown(**params: str) -> list[str]:
        response = client.get("/console/queue", params=params)
        assert response.status_code == 200, response.text
        return hosts_in_order(response.text)

    assert shown(priority="police") == ["police.example"]
    assert shown(source="trusted_flagger") == ["trusted.example"]
    assert shown(source="public", priority="public") == ["public-old.example", "public-new.example"]
    assert shown(overdue="1") == []
    assert shown(mine="1") == []
    next_case(client, csrf)
    assert shown(mine="1") == ["danger.example"]


def test_bad_filters_are_refused_beside_the_field(
    client: TestClient, database: Database, mixed: dict[str, uuid.UUID]
) -> None:
    sign_in(client, database, Role.ANALYST)
    response = client.get("/console/queue", params={"priority": "urgent", "overdue": "maybe"})
    assert response.status_code == 422
    assert "Choose one of the listed priorities." in response.text
    assert "Tick the box or leave it empty." in response.text
    assert 'aria-invalid="true"' in response.text
    assert hosts_in_order(response.text) == []


def test_next_case_assigns_the_top_case_and_two_analysts_get_different_ones(
    app: object,
    client: TestClient,
    database: Database,
    clock: FrozenClock,
    mixed: dict[str, uuid.UUID],
) -> None:
    ana, ana_csrf = sign_in(client, database, Role.ANALYST, "ana")
    with TestClient(client.app) as other:
        _, ben_csrf = sign_in(other, database, Role.ANALYST, "ben")
        assert next_case(client, ana_csrf) == f"/console/cases/{mixed['danger']}"
        assert next_case(other, ben_csrf) == f"/console/cases/{mixed['police']}"
        # Pressing Next again resumes the case one holds instead of taking another.
        assert next_case(client, ana_csrf) == f"/console/cases/{mixed['danger']}"
        page = client.get("/console/queue").text
        assert re.search(r"danger\.example.*?<td>\s*you\s", page, re.S)
        assert re.search(r"police\.example.*?ben", page, re.S)
        # A hold lapses: a case left alone goes back to the queue for the next person.
        clock.advance(queue.CLAIM_TTL + timedelta(minutes=1))
        with TestClient(client.app) as third:
            _, cy_csrf = sign_in(third, database, Role.ANALYST, "cy")
            assert next_case(third, cy_csrf) == f"/console/cases/{mixed['danger']}"
    with database.sessions() as session:
        assigned = events_of(session, mixed["danger"], queue.ASSIGNED)
    assert sorted(e.actor for e in assigned) == ["ana", "cy"]
    assert ana.username == "ana"


def test_next_case_when_nothing_waits(client: TestClient, database: Database) -> None:
    _, csrf = sign_in(client, database, Role.ANALYST)
    assert next_case(client, csrf) == "/console/queue?done=empty"
    assert "No case is waiting for you." in client.get("/console/queue?done=empty").text


def test_next_case_needs_the_csrf_token_and_the_role(
    client: TestClient, database: Database, mixed: dict[str, uuid.UUID]
) -> None:
    sign_in(client, database, Role.ANALYST)
    assert client.post("/console/queue/next", data={}).status_code == 403
    _, csrf = sign_in(client, database, Role.POLICE)
    assert client.get("/console/queue").status_code == 403
    response = client.post("/console/queue/next", data={"csrf_token": csrf})
    assert response.status_code == 403
    with database.sessions() as session:
        assert events_of(session, mixed["danger"], queue.ASSIGNED) == []


def test_analysts_pressing_next_at_once_get_different_cases(
    committed: Database, settings: Settings
) -> None:
    """Real concurrency: separate connections and transactions (SKIP LOCKED on PostgreSQL,
    the single writer on SQLite)."""
    made = {
        make_case(committed, settings, f"http://race{n}.example/a", at=NOW - timedelta(minutes=n))
        for n in range(4)
    }
    barrier = threading.Barrier(4)
    taken: list[uuid.UUID | None] = []
    failures: list[BaseException] = []

    def press(n: int) -> None:
        analyst = Principal(kind="user", id=str(n), label=f"analyst-{n}")
        try:
            barrier.wait()
            with committed.transaction() as session:
                case = queue.take_next(session, analyst, now=NOW)
                taken.append(case.id if case else None)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            failures.append(exc)

    threads = [threading.Thread(target=press, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert None not in taken
    assert set(taken) == made  # four analysts, four different cases
    with committed.sessions() as session:
        for case_id in made:
            assert len(events_of(session, case_id, queue.ASSIGNED)) == 1


def test_time_left_reads_in_days_hours_and_minutes() -> None:
    assert queue.describe_time_left(timedelta(minutes=5)) == "5 min left"
    assert queue.describe_time_left(timedelta(hours=26, minutes=3)) == "1 d 2 h 3 min left"
    assert queue.describe_time_left(-timedelta(minutes=90)) == "overdue by 1 h 30 min"
