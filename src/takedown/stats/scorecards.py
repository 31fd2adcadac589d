"""Provider scorecards: per hosting provider, its cases, time to removal, re-notices."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from takedown.cases.models import Case
from takedown.notices.models import Notice, NoticeKind
from takedown.stats.periods import Period
from takedown.stats.timings import Timing, timings


@dataclass(frozen=True)
class Scorecard:
    org_id: uuid.UUID
    organization: str
    to_removal: Timing
    renoticed: int
    escalated: int


def scorecards(
    session: Session, period: Period, org_id: uuid.UUID | None = None
) -> list[Scorecard]:
    """Per hosting provider (the organization a case's first-level notice went to): the
    period's cohort of its cases, time to removal from the first report, and how many needed
    a re-notice or an escalation (by the end of the period). ``org_id`` keeps one provider."""
    hosted = select(Notice.case_id, Notice.org_id, Notice.org_name).where(
        Notice.kind == NoticeKind.NOTICE, Notice.org_id.is_not(None)
    )
    if org_id is not None:
        hosted = hosted.where(Notice.org_id == org_id)
    host = hosted.distinct().subquery()
    cohort = (
        select(
            host.c.org_id.label("grp"),
            Case.first_reported_at.label("started"),
            Case.removed_at.label("happened"),
        )
        .join(host, host.c.case_id == Case.id)
        .where(Case.first_reported_at >= period.start, Case.first_reported_at < period.end)
    )
    times = timings(session, cohort, period.end)
    if not times:
        return []

    def needed(kind: NoticeKind) -> dict[uuid.UUID, int]:
        later = exists().where(
            Notice.case_id == Case.id, Notice.kind == kind, Notice.created_at < period.end
        )
        query = (
            select(host.c.org_id, func.count())
            .join(Case, host.c.case_id == Case.id)
            .where(
                Case.first_reported_at >= period.start,
                Case.first_reported_at < period.end,
                later,
            )
            .group_by(host.c.org_id)
        )
        return {row[0]: int(row[1]) for row in session.execute(query)}

    renoticed, escalated = needed(NoticeKind.RENOTICE), needed(NoticeKind.ESCALATION)
    names = dict(
        session.execute(
            select(host.c.org_id, func.min(host.c.org_name)).group_by(host.c.org_id)
        ).all()
    )
    return sorted(
        (
            Scorecard(
                org_id=org,
                organization=names.get(org, ""),
                to_removal=timing,
                renoticed=renoticed.get(org, 0),
                escalated=escalated.get(org, 0),
            )
            for org, timing in times.items()
        ),
        key=lambda card: card.organization,
    )
