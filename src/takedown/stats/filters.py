"""Which cases a filter keeps, and the first report and first decision of each case.

Filters narrow cases: ``source`` is the source of the case's first report; ``country`` a
hosting country in any of its traces; ``organization`` an organization that got any notice
about it (host, CDN, registrar); ``classification`` the classification of any of its items;
``outcome`` where the case is now (``removed``, ``confirmed``, ``not_illegal``, ``pending``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.selectable import Subquery

from takedown.cases.models import Case, CaseEvent, CaseItem, CaseState
from takedown.intake.models import Report, ReporterSource
from takedown.notices.models import Notice

OUTCOMES: Final = ("removed", "confirmed", "not_illegal", "pending")
_DECIDED: Final = (CaseState.CONFIRMED.value, CaseState.NOT_ILLEGAL.value)


@dataclass(frozen=True)
class Filters:
    source: ReporterSource | None = None
    country: str | None = None
    organization: uuid.UUID | None = None
    classification: str | None = None
    outcome: str | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in vars(self).values())


# A column holding a case's id: Case.id, Report.case_id, a subquery's column.
CaseKey = ColumnElement[Any] | QueryableAttribute[Any]


def first_reports() -> Subquery:
    """Each case's first report (its source is the case's source)."""
    ranked = select(
        Report.case_id,
        Report.source,
        func.row_number()
        .over(partition_by=Report.case_id, order_by=(Report.received_at, Report.reference))
        .label("rn"),
    ).subquery()
    return select(ranked.c.case_id, ranked.c.source).where(ranked.c.rn == 1).subquery()


def decision(event: Any) -> ColumnElement[bool]:
    """``event`` (``CaseEvent`` or an alias of it) is a decision: confirmed or not illegal."""
    return and_(event.kind == "state_changed", event.data["to"].as_string().in_(_DECIDED))


def first_decisions() -> Subquery:
    """Each case's first decision: when, by whom, and the verdict.

    "First" is by ``(at, id)``: a decision with no earlier one of its case (an anti-join the
    planner answers from the ``(case_id, at)`` index or a hash), not a ranking of every
    decision ever made, so a period's range on the result is applied before the join.
    """
    earlier = aliased(CaseEvent)
    sooner = exists().where(
        earlier.case_id == CaseEvent.case_id,
        decision(earlier),
        or_(earlier.at < CaseEvent.at, and_(earlier.at == CaseEvent.at, earlier.id < CaseEvent.id)),
    )
    verdict = CaseEvent.data["to"].as_string()
    return (
        select(CaseEvent.case_id, CaseEvent.at, CaseEvent.actor, verdict.label("verdict"))
        .where(decision(CaseEvent), ~sooner)
        .subquery()
    )


def case_conditions(filters: Filters, case_id: CaseKey) -> list[ColumnElement[bool]]:
    """Conditions on ``case_id`` (a column holding a case's id) that ``filters`` ask for."""
    from takedown.tracing.models import Trace

    found: list[ColumnElement[bool]] = []
    if filters.source is not None:
        first = first_reports()
        found.append(
            case_id.in_(select(first.c.case_id).where(first.c.source == filters.source.value))
        )
    if filters.country is not None:
        found.append(
            exists().where(
                Trace.case_id == case_id, Trace.countries.contains(filters.country.upper())
            )
        )
    if filters.organization is not None:
        found.append(
            exists().where(Notice.case_id == case_id, Notice.org_id == filters.organization)
        )
    if filters.classification is not None:
        found.append(
            exists().where(
                CaseItem.case_id == case_id, CaseItem.classification == filters.classification
            )
        )
    if filters.outcome is not None:
        found.append(case_id.in_(select(Case.id).where(_outcome(filters.outcome))))
    return found


def _outcome(outcome: str) -> ColumnElement[bool]:
    if outcome == "removed":
        return Case.removed_at.is_not(None)
    if outcome == "pending":
        return Case.state.in_((CaseState.NEW, CaseState.AWAITING_ASSESSMENT))
    return and_(Case.state == CaseState(outcome), Case.removed_at.is_(None))
