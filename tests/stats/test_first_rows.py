"""Which report and which decision come first: later ones, and ties on the same instant, are
never counted as a case's first (duplicates folded, assessments, the time to assessment)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from takedown.cases.models import CaseEvent
from takedown.intake.models import Report
from takedown.stats import filters, periods, service
from takedown.stats.filters import Filters
from tests.stats.seed import NOVEMBER, seed

MONTH = periods.parse("month", "2026-11", today=NOVEMBER.date())
LAST = uuid.UUID("f" * 32)  # sorts after every other id, as text and as a uuid


def test_later_and_tied_rows_are_not_a_cases_first(db: Session) -> None:
    cases = seed(db)
    before = service.figures(db, MONTH, Filters())

    # A second report of "a" at the very instant of its first: a duplicate, whichever comes
    # first by reference.
    first = db.scalars(
        select(Report).where(Report.case_id == cases["a"].id).order_by(Report.received_at)
    ).first()
    assert first is not None
    tied = Report(
        reference="Z" + first.reference[1:],
        case_id=first.case_id,
        received_at=first.received_at,
        submitted_url=first.submitted_url,
        source=first.source,
        content_kind=first.content_kind,
        site_kind=first.site_kind,
        immediate_danger=False,
    )
    # "b" (decided by the system) gets a person's contrary decision at the same instant, with
    # an id sorting after: not its first. "f", decided in October, is decided again in November.
    decided = db.scalars(select(CaseEvent).where(CaseEvent.case_id == cases["b"].id)).one()
    again = cases["f"].first_reported_at + timedelta(days=15)
    data = {"from": "confirmed", "to": "not_illegal"}
    db.add_all(
        [
            tied,
            CaseEvent(
                id=LAST, case_id=decided.case_id, at=decided.at, kind="state_changed",
                actor="user ana", message="decided", data=data,
            ),
            CaseEvent(
                case_id=cases["f"].id, at=again, kind="state_changed", actor="user ana",
                message="decided", data=data,
            ),
        ]
    )  # fmt: skip
    db.flush()

    after = service.figures(db, MONTH, Filters())
    assert after.counts == before.counts | {
        "reports_received": before.counts["reports_received"] + 1,
        "duplicates_folded": before.counts["duplicates_folded"] + 1,
    }
    assert after.to_assessment == before.to_assessment
    firsts = filters.first_decisions()
    rows = db.execute(
        select(firsts.c.case_id, firsts.c.actor, firsts.c.verdict).where(
            firsts.c.case_id.in_((cases["b"].id, cases["f"].id))
        )
    ).all()
    assert sorted((r.actor, r.verdict) for r in rows) == [
        ("system", "confirmed"),
        ("user ana", "confirmed"),
    ]
