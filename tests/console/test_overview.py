"""The overview: cases by state, past due, the queues, and median time to removal this week."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from takedown.auth.models import Role
from takedown.cases.models import Case, CaseState, Priority
from takedown.console import overview
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import JobStatus
from tests.console.support import sign_in
from tests.factories import NOW

H = timedelta(hours=1)


def case(
    session: Session,
    name: str,
    state: CaseState,
    *,
    reported: datetime = NOW - 10 * H,
    due: datetime = NOW + H,
    notice: datetime | None = None,
    removed: datetime | None = None,
) -> Case:
    url = f"http://{name}.example/x"
    row = Case(
        url_sha256=hashlib.sha256(url.encode()).hexdigest(),
        canonical_url=url,
        url=url,
        host=f"{name}.example",
        registered_domain=None,
        state=state,
        priority=Priority.PUBLIC,
        first_reported_at=reported,
        last_reported_at=reported,
        due_at=due,
        report_count=1,
        first_notice_at=notice,
        removed_at=removed,
    )
    session.add(row)
    session.flush()
    return row


def small_fixture(session: Session) -> None:
    """Two cases late, one on time, one assessed late (not past due any more), four removals:
    three this week, one eight days ago."""
    case(session, "late-new", CaseState.NEW, due=NOW - H)
    case(session, "late-waiting", CaseState.AWAITING_ASSESSMENT, due=NOW - 2 * H)
    case(session, "on-time", CaseState.AWAITING_ASSESSMENT, due=NOW + H)
    case(session, "assessed", CaseState.NOT_ILLEGAL, due=NOW - 5 * H)
    # Removed this week: 2 h, 4 h and 12 h after the first report; noticed 1 h and 5 h before
    # removal (the third had no notice: removed before one went out).
    case(
        session,
        "r1",
        CaseState.CONFIRMED,
        reported=NOW - 30 * H,
        notice=NOW - 29 * H,
        removed=NOW - 28 * H,
    )
    case(
        session,
        "r2",
        CaseState.CLOSED,
        reported=NOW - 50 * H,
        notice=NOW - 49 * H,
        removed=NOW - 46 * H,
    )
    case(session, "r3", CaseState.CLOSED, reported=NOW - 14 * H, removed=NOW - 2 * H)
    # Eight days ago: not this week.
    case(
        session,
        "old",
        CaseState.CLOSED,
        reported=NOW - 200 * H,
        notice=NOW - 199 * H,
        removed=NOW - 8 * 24 * H,
    )
    jobs.enqueue(session, "tests.waiting", run_at=NOW)
    dead = jobs.enqueue(session, "tests.gone", run_at=NOW)
    dead.status = JobStatus.DEAD
    session.flush()


def test_median_of_an_odd_and_an_even_number() -> None:
    assert overview.median([]) == overview.Median(None, 0)
    assert overview.median([3 * H, H, 2 * H]).value == 2 * H
    # Even: the mean of the middle two, not one of them.
    assert overview.median([H, 4 * H, 2 * H, 10 * H]).value == 3 * H


def test_the_overview_figures(db: Session) -> None:
    small_fixture(db)

    figures = overview.overview(db, NOW)

    assert figures.by_state == {
        CaseState.NEW: 1,
        CaseState.AWAITING_ASSESSMENT: 2,
        CaseState.CONFIRMED: 1,
        CaseState.NOT_ILLEGAL: 1,
        CaseState.CLOSED: 3,
    }
    assert figures.past_due == 2
    assert figures.assessment_queue == 3
    assert (figures.jobs_waiting, figures.jobs_dead) == (1, 1)
    assert figures.removed_this_week == 3
    # From the first report: 2 h, 4 h, 12 h → 4 h.
    assert figures.from_report == overview.Median(4 * H, 3)
    # From the first notice: 1 h and 3 h (r3 had none) → the mean of the two, 2 h.
    assert figures.from_notice == overview.Median(2 * H, 2)


def test_the_overview_page(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        small_fixture(session)
    sign_in(client, database, Role.POLICE)  # every staff role reads cases

    page = client.get("/console/overview")

    assert page.status_code == 200, page.text
    text = page.text
    assert 'id="past-due">2<' in text
    assert 'id="assessment-queue">3<' in text
    assert 'id="median-report">4 h<' in text
    assert 'id="median-notice">2 h<' in text
    assert 'id="state-closed">3<' in text


def test_an_empty_overview(client: TestClient, database: Database) -> None:
    sign_in(client, database, Role.ANALYST)
    page = client.get("/console/overview")
    assert page.status_code == 200
    assert 'id="median-report">-<' in page.text
    assert "0 cases confirmed removed" in page.text


def test_durations_for_people() -> None:
    assert overview.human(None) == "-"
    assert overview.human(timedelta(days=2, hours=3)) == "2 d 3 h"
    assert overview.human(3 * H + timedelta(minutes=20)) == "3 h 20 min"
    assert overview.human(timedelta(minutes=45)) == "45 min"
    assert overview.human(timedelta(seconds=30)) == "30 s"
