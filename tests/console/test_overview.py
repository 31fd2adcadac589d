"""The overview: cases by state, past due, the queues, median time to removal this week, and
for supervisors the charts of recent weeks and months."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from takedown.auth.models import Role
from takedown.cases.models import Case, CaseState, Priority
from takedown.console import overview
from takedown.db.session import Database
from takedown.jobs import service as jobs
from takedown.jobs.models import JobStatus
from takedown.stats import breakdowns
from tests.console.support import sign_in
from tests.factories import NOW
from tests.stats.seed import seed

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


# --- charts of recent weeks and months (supervisors) ----------------------------------------


def _figure(page: str, key: str) -> str:
    found = re.search(rf"<figure id=\"overview-{key}\">(.*?)</figure>", page, re.S)
    assert found is not None, f"no {key} chart"
    return found.group(1)


def _rows(figure: str) -> dict[str, list[str]]:
    """The chart's table: the first cell of each body row → the row's cells."""
    body = figure.split("<tbody>", 1)[1]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        rows[cells[0]] = cells
    return rows


def test_the_recent_periods() -> None:
    # NOW is Sunday 2026-11-22: this ISO week started on Monday the 16th.
    weeks = overview.recent_weeks(NOW)
    assert (weeks.start, weeks.end) == (
        datetime(2026, 8, 31, tzinfo=UTC),
        datetime(2026, 11, 23, tzinfo=UTC),
    )
    labels = [part.label for part in breakdowns.parts(weeks)]
    assert labels == [f"2026-W{n}" for n in range(36, 48)]
    months = overview.recent_months(NOW)
    assert months.start == datetime(2026, 6, 1, tzinfo=UTC)
    assert [part.label for part in breakdowns.parts(months)] == [
        f"2026-{m:02d}" for m in range(6, 12)
    ]
    # Across a new year, on a Monday: the week is that one day so far.
    january = datetime(2027, 1, 4, 8, tzinfo=UTC)
    assert overview.recent_months(january).start == datetime(2026, 8, 1, tzinfo=UTC)
    assert [p.label for p in breakdowns.parts(overview.recent_weeks(january))][-2:] == [
        "2026-W53",
        "2027-W01",
    ]


def test_charts_only_when_asked(db: Session) -> None:
    seed(db)
    assert overview.overview(db, NOW).charts == []
    charts = overview.overview(db, NOW, with_charts=True).charts
    assert [(span, chart.key) for span, chart in charts] == [
        ("last 12 weeks", "removal-trend"),
        ("last 6 months", "removal-shares"),
    ]


def test_a_supervisor_sees_the_recent_charts(client: TestClient, database: Database) -> None:
    with database.transaction() as session:
        seed(session)
    sign_in(client, database, Role.SUPERVISOR)

    page = client.get("/console/overview")

    assert page.status_code == 200, page.text
    text = page.text
    assert text.count("<svg ") == 2
    assert 'href="/console/stats"' in text
    trend = _figure(text, "removal-trend")
    assert 'class="chart"' in trend
    assert "<details>" in trend
    rows = _rows(trend)
    assert len(rows) == 12
    # Reported in week 45, removed 10 h and 50 h after: the median and the 90th percentile.
    assert rows["2026-W45"] == ["2026-W45", "2", "10.0 h", "2.1 days"]
    # Reported in week 46 and still up today: counted, not removed.
    assert rows["2026-W46"] == ["2026-W46", "1", "not yet", "not yet"]
    shares = _rows(_figure(text, "removal-shares"))
    assert list(shares) == [f"2026-{m:02d}" for m in range(6, 12)]
    # October: one case, removed after 12 days. November so far (the case reported on the
    # 28th is later than today): 10 h, 50 h and one still up.
    assert shares["2026-10"] == ["2026-10", "1", "0%", "0%"]
    assert shares["2026-11"] == ["2026-11", "3", "33%", "67%"]
    assert shares["2026-06"] == ["2026-06", "0", "-", "-"]


@pytest.mark.parametrize("role", [Role.ANALYST, Role.POLICE])
def test_others_see_the_overview_without_charts(
    client: TestClient, database: Database, role: Role
) -> None:
    with database.transaction() as session:
        seed(session)
    sign_in(client, database, role)

    page = client.get("/console/overview")

    assert page.status_code == 200, page.text
    assert 'id="median-report"' in page.text
    assert "<svg" not in page.text
    assert 'id="recent-charts"' not in page.text
