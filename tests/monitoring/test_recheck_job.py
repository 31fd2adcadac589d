"""The ``monitoring.recheck`` job: only the case's current re-check runs, and what it records.

The host is a local web host on 127.0.0.1 serving a benign sample photo; hosts and
organizations are fictional.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseItem, CaseState, ItemVerdict
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.flow.monitoring import recheck_case, record
from takedown.jobs.registry import JobContext
from takedown.monitoring.models import Recheck
from takedown.monitoring.removal import RecheckOutcome, RecheckStatus
from takedown.monitoring.schedule import RECHECK_JOB, schedule_recheck
from takedown.notices.models import NoticeStatus
from tests.conftest import TESTDATA
from tests.factories import NOW
from tests.notices.support import events_of, new_notice
from tests.police.support import jobs_named
from tests.routing.support import confirmed_case

from .support import Site

PHOTO = (TESTDATA / "pdq" / "dih" / "bridge-1-original.jpg").read_bytes()
DUE = NOW + timedelta(hours=6)


@pytest.fixture
def site() -> Iterator[Site]:
    local = Site().start()
    yield local
    local.close()


@pytest.fixture
def settings(settings: Settings, site: Site) -> Settings:
    return settings.model_copy(update={"fetch_allow_hosts": [site.host]})


def live_case(db: Session, site: Site) -> Case:
    """A confirmed case whose known item the site still serves, re-check due at DUE."""
    url = site.serve("/a.jpg", PHOTO)
    case = confirmed_case(db, url)
    db.add(
        CaseItem(
            case_id=case.id,
            url=url,
            content_type="image/jpeg",
            size=len(PHOTO),
            md5=hashlib.md5(PHOTO, usedforsecurity=False).hexdigest(),
            sha1=hashlib.sha1(PHOTO, usedforsecurity=False).hexdigest(),
            sha256=hashlib.sha256(PHOTO).hexdigest(),
            verdict=ItemVerdict.KNOWN,
            automatic=True,
            captured_at=NOW,
        )
    )
    schedule_recheck(db, case.id, DUE)
    db.flush()
    return case


def run_job(
    db: Session, database: Database, settings: Settings, payload: dict[str, Any], at: datetime
) -> None:
    ctx = JobContext(
        session=db,
        settings=settings,
        clock=FrozenClock(at),
        job_id=uuid.uuid4(),
        attempt=1,
        name=RECHECK_JOB,
        database=database,
    )
    recheck_case(ctx, payload)
    db.flush()


def rechecks(db: Session, case: Case) -> list[Recheck]:
    return list(db.scalars(select(Recheck).where(Recheck.case_id == case.id)))


def test_the_due_job_rechecks_and_schedules_the_next(
    db: Session, database: Database, settings: Settings, site: Site
) -> None:
    case = live_case(db, site)
    [job] = jobs_named(db, RECHECK_JOB)

    run_job(db, database, settings, job.payload, DUE)

    [row] = rechecks(db, case)
    assert (row.status, row.checked_at) == (RecheckStatus.LIVE.value, DUE)
    assert site.requested == ["/a.jpg"]
    assert case.next_recheck_at == DUE + settings.recheck_interval
    assert [j.run_at for j in jobs_named(db, RECHECK_JOB)] == [DUE, case.next_recheck_at]


@pytest.mark.parametrize("change", ["moved", "removed", "closed"])
def test_a_stale_job_does_nothing_and_fetches_nothing(
    db: Session, database: Database, settings: Settings, site: Site, change: str
) -> None:
    case = live_case(db, site)
    [job] = jobs_named(db, RECHECK_JOB)
    if change == "moved":  # an answer brought the re-check forward: this job is replaced
        schedule_recheck(db, case.id, NOW + timedelta(hours=1))
    elif change == "removed":
        case.removed_at = NOW + timedelta(hours=1)
    else:
        case.state = CaseState.CLOSED
    db.flush()

    run_job(db, database, settings, job.payload, DUE)

    assert rechecks(db, case) == []
    assert site.requested == []


def test_a_job_without_a_time_runs_while_the_case_is_open(
    db: Session, database: Database, settings: Settings, site: Site
) -> None:
    case = live_case(db, site)
    run_job(db, database, settings, {"case_id": str(case.id)}, DUE)
    assert len(rechecks(db, case)) == 1


def test_a_removal_seen_closes_the_case_and_cancels_open_notices(
    db: Session, settings: Settings
) -> None:
    notice = new_notice(db, settings)
    case = db.get_one(Case, notice.case_id)
    case.first_notice_at = NOW
    schedule_recheck(db, case.id, DUE)
    outcome = RecheckOutcome(RecheckStatus.REMOVED, "http_404", "the page answers 404", 404)

    record(db, case, outcome, settings=settings, now=DUE)

    assert (case.removed_at, case.state, case.next_recheck_at) == (DUE, CaseState.CLOSED, None)
    assert notice.status is NoticeStatus.CANCELLED
    [event] = events_of(db, case.id, "removed")
    assert event.data["from_first_notice_seconds"] == 6 * 3600
    assert event.data["cancelled_notices"] == 1


def test_re_checks_stop_after_recheck_give_up_after(db: Session, settings: Settings) -> None:
    case = confirmed_case(db)
    late = NOW + settings.recheck_give_up_after
    outcome = RecheckOutcome(RecheckStatus.UNREACHABLE, "timeout", "no answer")

    record(db, case, outcome, settings=settings, now=late)

    assert case.next_recheck_at is None
    assert jobs_named(db, RECHECK_JOB) == []
    assert case.state is CaseState.CONFIRMED
