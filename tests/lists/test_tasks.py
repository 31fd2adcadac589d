"""The periodic publication, and the URL list following re-checks."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from takedown.cases import service as cases
from takedown.cases.models import CaseState
from takedown.clock import FrozenClock
from takedown.config import Settings
from takedown.db.session import Database
from takedown.flow.lists import PUBLISH_JOB, publish_lists
from takedown.flow.monitoring import record
from takedown.jobs.registry import JobContext
from takedown.lists import entries, versions
from takedown.lists.models import EntryStatus, ListName
from takedown.lists.rows import unpack
from takedown.monitoring.removal import RecheckOutcome, RecheckStatus
from tests.factories import ACTOR, NOW
from tests.notices.support import events_of
from tests.routing.support import confirmed_case


def _context(db: Session, database: Database, settings: Settings, clock: FrozenClock) -> JobContext:
    return JobContext(db, settings, clock, uuid.uuid4(), 1, PUBLISH_JOB, database)


def test_publishes_changes_at_most_every_interval(
    db: Session, database: Database, settings: Settings
) -> None:
    clock = FrozenClock(NOW)
    ctx = _context(db, database, settings, clock)
    entries.add_entry(db, "a.example.test/p.html", actor=ACTOR, reason="r", now=NOW)
    publish_lists(ctx, {})
    first = versions.latest(db, ListName.URLS)
    assert first is not None
    assert first.number == 1
    assert first.created_by == "system"

    entries.add_entry(db, "b.example.test/p.html", actor=ACTOR, reason="r", now=NOW)
    clock.advance(settings.list_publish_interval - timedelta(seconds=1))
    publish_lists(ctx, {})
    assert versions.latest(db, ListName.URLS) is first
    clock.advance(timedelta(seconds=1))
    publish_lists(ctx, {})
    second = versions.latest(db, ListName.URLS)
    assert second is not None
    assert second.number == 2


def test_a_refused_version_waits_and_the_job_goes_on(
    db: Session, database: Database, settings: Settings
) -> None:
    small = settings.model_copy(update={"list_guard_max_added": 1})
    for name in ("a", "b"):
        entries.add_entry(db, f"{name}.example.test/p.html", actor=ACTOR, reason="r", now=NOW)
    publish_lists(_context(db, database, small, FrozenClock(NOW)), {})
    assert versions.latest(db, ListName.URLS) is None
    assert versions.draft(db, ListName.URLS, small).violations[0].rule == "too_many_added"


def _live(text: str = "page still serves a known item") -> RecheckOutcome:
    return RecheckOutcome(RecheckStatus.LIVE, "known_item", text, 200)


def test_unremoved_home_case_is_listed_and_rechecked_while_listed(
    db: Session, settings: Settings
) -> None:
    case = confirmed_case(db, "http://home.example.test/p.html")
    case.first_notice_at = NOW
    later = NOW + settings.list_unremoved_after - timedelta(hours=1)
    record(db, case, _live(), settings=settings, now=later)
    assert entries.case_entries(db, case.id) == []

    at = NOW + settings.list_unremoved_after
    record(db, case, _live(), settings=settings, now=at)
    [entry] = entries.case_entries(db, case.id)
    assert (entry.expression, entry.status) == ("home.example.test/p.html", EntryStatus.ACTIVE)
    assert "not removed 48 h" in entry.reason

    # Listed: re-checked beyond the give-up time, at least every list_recheck_interval.
    beyond = case.first_reported_at + settings.recheck_give_up_after + timedelta(days=1)
    record(db, case, _live(), settings=settings, now=beyond)
    step = min(settings.recheck_interval, settings.list_recheck_interval)
    assert case.next_recheck_at == beyond + step

    gone = RecheckOutcome(RecheckStatus.REMOVED, "http_404", "404", 404)
    record(db, case, gone, settings=settings, now=beyond + step)
    assert entry.status is EntryStatus.WITHDRAWN
    assert entry.withdrawn_reason == "content removed"


def test_listing_after_time_can_be_turned_off(db: Session, settings: Settings) -> None:
    off = settings.model_copy(update={"list_unremoved_after": timedelta(0)})
    case = confirmed_case(db, "http://home.example.test/q.html")
    case.first_notice_at = NOW
    record(db, case, _live(), settings=off, now=NOW + timedelta(days=30))
    assert entries.case_entries(db, case.id) == []


def test_unremoved_listing_respects_withdrawals_hosts_and_police(
    db: Session, settings: Settings
) -> None:
    at = NOW + settings.list_unremoved_after
    # Withdrawn by a person (an appeal upheld): the re-check does not list it again.
    case = confirmed_case(db, "http://home.example.test/w.html")
    case.first_notice_at = NOW
    record(db, case, _live(), settings=settings, now=at)
    [entry] = entries.case_entries(db, case.id)
    entries.withdraw(db, entry, actor=ACTOR, now=at, reason="appeal upheld")
    record(db, case, _live(), settings=settings, now=at + timedelta(hours=12))
    assert entries.case_entries(db, case.id) == []
    # A case at the root of a host would block the whole host: never listed automatically.
    root = confirmed_case(db, "http://root.example.test/")
    root.first_notice_at = NOW
    record(db, root, _live(), settings=settings, now=at)
    assert entries.case_entries(db, root.id, live=False) == []
    assert entries.list_case(db, root, actor=ACTOR, reason="r", now=at) is None


def test_a_case_reported_again_after_removal_walks_again(db: Session, settings: Settings) -> None:
    case = confirmed_case(db, "http://back.example.test/p.html")
    gone = RecheckOutcome(RecheckStatus.REMOVED, "http_404", "404", 404)
    record(db, case, gone, settings=settings, now=NOW)
    assert case.removed_at == NOW
    cases.transition(db, case, CaseState.AWAITING_ASSESSMENT, ACTOR, now=NOW + timedelta(days=3))
    # The content is back: removal is measured again, and re-checks may run again.
    assert case.removed_at is None
    [event] = events_of(db, case.id, "state_changed")[-1:]
    assert event.data["earlier_removed_at"] == NOW.isoformat()


def test_removals_go_out_while_additions_wait_for_a_supervisor(
    db: Session, database: Database, settings: Settings
) -> None:
    small = settings.model_copy(update={"list_guard_max_added": 1})
    clock = FrozenClock(NOW)
    ctx = _context(db, database, small, clock)
    first = entries.add_entry(db, "a.example.test/p.html", actor=ACTOR, reason="r", now=NOW)
    publish_lists(ctx, {})
    # Two additions (too many) and one withdrawal: the withdrawal is published alone.
    for name in ("b", "c"):
        entries.add_entry(db, f"{name}.example.test/p.html", actor=ACTOR, reason="r", now=NOW)
    entries.withdraw(db, first, actor=ACTOR, now=NOW, reason="content removed")
    clock.advance(small.list_publish_interval)
    publish_lists(ctx, {})
    version = versions.latest(db, ListName.URLS)
    assert version is not None
    assert (version.number, version.added_count, version.removed_count) == (2, 0, 1)
    assert unpack(version.content) == []
    assert versions.draft(db, ListName.URLS, small).violations[0].rule == "too_many_added"
