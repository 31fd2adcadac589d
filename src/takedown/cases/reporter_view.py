"""The reporter's view of cases: an organization's own reports and the case's public status.

A trusted flagger, partner hotline or police force reporting by API key needs to know whether
its report led to action and when: received, assessed (and the verdict), a notice sent,
removed. It must learn nothing about other reporters (the same URL reported by police would
reveal an investigation), the hotline's staff (names, notes) or police (holds, referrals).

The milestones are chosen so that a police hold cannot be told from a slow case: a hold only
delays the notice, and "assessed, no notice yet" is what any case waiting for its notice
shows. A referral to police is not a notice sent: the host has not been told, and counting it
would both be false and reveal that police know.

Everything is computed in a fixed number of queries for a whole page of cases.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from takedown.cases.models import Case, CaseEvent, CaseState
from takedown.cases.schemas import (
    PublicStatus,
    ReporterCaseList,
    ReporterCaseView,
    ReporterReportView,
)
from takedown.intake.models import Report
from takedown.notices.models import Notice, NoticeKind

Verdict = Literal["confirmed", "not_illegal"]
_VERDICTS: frozenset[str] = frozenset({CaseState.CONFIRMED.value, CaseState.NOT_ILLEGAL.value})

# Notices that ask someone able to remove the content to remove it. Police referrals are
# left out (see the module docstring); domain alerts to registries follow a host notice.
NOTIFYING_KINDS = frozenset(
    {NoticeKind.NOTICE, NoticeKind.RENOTICE, NoticeKind.ESCALATION, NoticeKind.FORWARD}
)


@dataclass(frozen=True)
class _Assessment:
    verdict: Verdict
    at: datetime


def page(session: Session, org_id: uuid.UUID, *, limit: int, offset: int) -> ReporterCaseList:
    """The cases ``org_id`` reported, the one it reported most recently first.

    Never ordered by priority or due time: either would rank the cases police reported too.
    """
    mine = (
        select(Report.case_id, func.max(Report.received_at).label("latest"))
        .where(Report.org_id == org_id)
        .group_by(Report.case_id)
        .subquery()
    )
    total = session.scalar(select(func.count()).select_from(mine)) or 0
    ids = session.scalars(
        select(mine.c.case_id)
        .order_by(mine.c.latest.desc(), mine.c.case_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return ReporterCaseList(total=total, items=views(session, org_id, ids))


def views(
    session: Session, org_id: uuid.UUID, case_ids: Sequence[uuid.UUID]
) -> list[ReporterCaseView]:
    """The reporter's view of each case in ``case_ids`` (in that order) that ``org_id``
    reported; cases it did not report are left out."""
    if not case_ids:
        return []
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids)))}
    reports = _own_reports(session, org_id, case_ids)
    assessments = _assessments(session, cases.values())
    sent = _notices_sent(session, case_ids)
    shown = []
    for case_id in case_ids:
        case, own = cases.get(case_id), reports.get(case_id)
        if case is None or not own:
            continue
        assessment = assessments.get(case_id)
        shown.append(_view(case, own, assessment, _first_notice(assessment, sent[case_id])))
    return shown


def _view(
    case: Case,
    own: list[Report],
    assessment: _Assessment | None,
    notice_sent_at: datetime | None,
) -> ReporterCaseView:
    removed_at = case.removed_at
    return ReporterCaseView(
        id=case.id,
        canonical_url=case.canonical_url,
        status=_status(assessment, notice_sent_at, removed_at),
        received_at=own[0].received_at,
        assessed_at=assessment.at if assessment else None,
        verdict=assessment.verdict if assessment else None,
        notice_sent_at=notice_sent_at,
        removed_at=removed_at,
        reports=[ReporterReportView.model_validate(r) for r in own],
    )


def _status(
    assessment: _Assessment | None, notice_sent_at: datetime | None, removed_at: datetime | None
) -> PublicStatus:
    if removed_at is not None:
        return "removed"
    if notice_sent_at is not None:
        return "notice_sent"
    if assessment is not None:
        return "assessed"
    return "received"


def _own_reports(
    session: Session, org_id: uuid.UUID, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Report]]:
    rows = session.scalars(
        select(Report)
        .where(Report.case_id.in_(case_ids), Report.org_id == org_id)
        .order_by(Report.received_at, Report.id)
    )
    found: dict[uuid.UUID, list[Report]] = defaultdict(list)
    for row in rows:
        found[row.case_id].append(row)
    return found


def _assessments(session: Session, cases: Any) -> dict[uuid.UUID, _Assessment]:
    """The verdict each case stands on now, and when it was given.

    Read from the state changes rather than replayed in order: events recorded in one
    instant have no order among themselves. A case awaiting assessment (new, or reopened
    after its content came back) stands on no verdict; a closed one on the state it was
    closed from, if that was a verdict.
    """
    by_case = {c.id: c for c in cases}
    changes: dict[uuid.UUID, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for case_id, at, data in session.execute(
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.data).where(
            CaseEvent.case_id.in_(by_case), CaseEvent.kind == "state_changed"
        )
    ):
        changes[case_id].append((at, data))
    found = {}
    for case_id, case in by_case.items():
        assessment = _assessment(case.state, changes[case_id])
        if assessment is not None:
            found[case_id] = assessment
    return found


def _assessment(
    state: CaseState, changes: list[tuple[datetime, dict[str, Any]]]
) -> _Assessment | None:
    until: datetime | None = None
    verdict = state.value
    if state is CaseState.CLOSED:
        closings = [(at, data) for at, data in changes if data.get("to") == CaseState.CLOSED]
        if not closings:
            return None
        until, closing = max(closings, key=lambda c: c[0])
        verdict = str(closing.get("from"))
    if verdict not in _VERDICTS:
        return None
    times = [
        at for at, data in changes if data.get("to") == verdict and (until is None or at <= until)
    ]
    if not times:
        return None
    return _Assessment("confirmed" if verdict == "confirmed" else "not_illegal", max(times))


def _notices_sent(
    session: Session, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[datetime]]:
    found: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for case_id, sent_at in session.execute(
        select(Notice.case_id, Notice.sent_at).where(
            Notice.case_id.in_(case_ids),
            Notice.kind.in_(NOTIFYING_KINDS),
            Notice.sent_at.is_not(None),
        )
    ):
        if sent_at is not None:  # the query says so; this tells the type checker
            found[case_id].append(sent_at)
    return found


def _first_notice(assessment: _Assessment | None, sent: list[datetime]) -> datetime | None:
    """The first notice of the case's present walk: after its confirmation. Notices of an
    earlier walk (before the content came back, or a decision later reversed) do not count."""
    if assessment is None or assessment.verdict != "confirmed":
        return None
    current = [at for at in sent if at >= assessment.at]
    return min(current) if current else None
