"""The follow-up rules after a re-check finds the content live: re-notice, then escalate.

Organizations are fictional, addresses from RFC 5737 and the ASN from RFC 5398.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from takedown.cases.models import Case
from takedown.config import Settings
from takedown.monitoring.followup import follow_up
from takedown.notices import service as notices
from takedown.notices.models import AnswerKind, Notice, NoticeKind, NoticeStatus
from takedown.orgs.models import Organization
from tests.factories import NOW
from tests.notices.support import events_of, mark_sent
from tests.orgs.support import directory_org
from tests.routing.support import Host, add_trace, confirmed_case, ref, trace_data

ASN = 64500


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"renotice_after": timedelta(hours=24), "max_renotices": 2})


def noticed_case(
    db: Session, settings: Settings, *, transit: bool = True
) -> tuple[Case, Notice, Organization | None]:
    """A case at Example Hosting, on the network of Example Transit (unless not ``transit``),
    noticed, the notice sent at NOW."""
    host = directory_org(db, "Example Hosting", abuse_email="abuse@hosting.example")
    operator = (
        directory_org(db, "Example Transit", abuse_email="abuse@transit.example", asns=[ASN])
        if transit
        else None
    )
    case = confirmed_case(db)
    add_trace(db, case, trace_data(Host("192.0.2.10", "NL", ASN, ref(host.name, host.id))))
    first = notices.create_notice(
        db,
        case,
        kind=NoticeKind.NOTICE,
        org=host,
        org_name=host.name,
        country="NL",
        settings=settings,
        now=NOW,
    )
    mark_sent(first)
    db.flush()
    return case, first, operator


def run(db: Session, case: Case, settings: Settings, at: datetime) -> list[Notice]:
    made = follow_up(db, case, settings=settings, now=at)
    for notice in made:
        if notice.status is NoticeStatus.QUEUED:
            mark_sent(notice, at)
    db.flush()
    return made


def test_no_follow_up_before_renotice_after(db: Session, settings: Settings) -> None:
    case, _, _ = noticed_case(db, settings)
    assert run(db, case, settings, NOW + timedelta(hours=23)) == []
    assert case.escalated_at is None


def test_a_notice_not_sent_yet_is_not_followed_up(db: Session, settings: Settings) -> None:
    case, first, _ = noticed_case(db, settings)
    first.status, first.sent_at = NoticeStatus.QUEUED, None
    assert run(db, case, settings, NOW + timedelta(days=3)) == []


def test_renotices_then_escalation_to_the_network_operator(db: Session, settings: Settings) -> None:
    case, first, operator = noticed_case(db, settings)
    day = timedelta(hours=24)

    [renotice] = run(db, case, settings, NOW + day)
    assert (renotice.kind, renotice.previous_id, renotice.org_id) == (
        NoticeKind.RENOTICE,
        first.id,
        first.org_id,
    )
    assert renotice.recipient == first.recipient
    # Sent just now: not due again until renotice_after has passed since this one.
    assert run(db, case, settings, NOW + day + timedelta(hours=1)) == []
    [second] = run(db, case, settings, NOW + 2 * day)
    assert (second.kind, second.previous_id) == (NoticeKind.RENOTICE, renotice.id)
    assert case.escalated_at is None

    # max_renotices reached: the next one up the trace is written to.
    [escalation] = run(db, case, settings, NOW + 3 * day)
    assert operator is not None
    assert (escalation.kind, escalation.org_id) == (NoticeKind.ESCALATION, operator.id)
    assert escalation.escalation_level == 1
    assert case.escalated_at == NOW + 3 * day
    [event] = events_of(db, case.id, "escalated")
    assert "Example Transit" in event.message
    assert event.data["supervisor"] is True

    # The host's thread does not escalate twice; the operator's own thread is re-noticed.
    [again] = run(db, case, settings, NOW + 4 * day)
    assert (again.kind, again.previous_id) == (NoticeKind.RENOTICE, escalation.id)


def test_cannot_act_escalates_at_once(db: Session, settings: Settings) -> None:
    case, first, operator = noticed_case(db, settings)
    first.answer = AnswerKind.CANNOT_ACT

    [escalation] = run(db, case, settings, NOW + timedelta(hours=1))

    assert operator is not None
    assert (escalation.kind, escalation.org_id) == (NoticeKind.ESCALATION, operator.id)


def test_a_dispute_stops_the_thread(db: Session, settings: Settings) -> None:
    case, first, _ = noticed_case(db, settings)
    first.answer = AnswerKind.DISPUTE
    assert run(db, case, settings, NOW + timedelta(days=10)) == []
    assert case.escalated_at is None


def test_with_no_one_left_the_case_is_flagged_once(db: Session, settings: Settings) -> None:
    case, first, _ = noticed_case(db, settings)
    first.answer = AnswerKind.CANNOT_ACT
    [escalation] = run(db, case, settings, NOW + timedelta(hours=1))
    escalation.answer = AnswerKind.CANNOT_ACT
    flagged_at = case.escalated_at

    assert run(db, case, settings, NOW + timedelta(hours=2)) == []
    assert case.escalated_at == flagged_at
    # Flagged already by the escalation: a supervisor is looking, no new event each re-check.
    assert len(events_of(db, case.id, "escalated")) == 1


def test_a_trace_with_no_one_above_the_host_flags_the_case(db: Session, settings: Settings) -> None:
    case, first, _ = noticed_case(db, settings, transit=False)
    first.answer = AnswerKind.CANNOT_ACT

    assert run(db, case, settings, NOW + timedelta(hours=1)) == []
    assert run(db, case, settings, NOW + timedelta(hours=2)) == []

    assert case.escalated_at == NOW + timedelta(hours=1)
    [event] = events_of(db, case.id, "escalated")
    assert event.message == "No one left to escalate to along the trace"
