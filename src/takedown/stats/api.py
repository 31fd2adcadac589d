"""Statistics over the JSON API.

- ``GET /api/v1/stats``: every figure of a period, with filters; staff who supervise.
- ``GET /api/v1/stats/providers``: every hosting provider's scorecard; staff who supervise.
- ``GET /api/v1/stats/providers/me``: the calling organization's own scorecard, for its API
  key with ``cases:read``; the organization is the key's, never a parameter.
- ``GET /api/v1/stats/providers/me/statements?from=&to=``: the same key's removals on our
  notices as DSA statements of reasons (``dsa``).

The period is ``period`` (day, week, month, year, custom) with ``date`` (or ``from`` and
``to`` for custom); a period that does not parse is a 422.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from takedown.auth.principal import Permission, Principal
from takedown.errors import Forbidden, ValidationFailed
from takedown.intake.models import ReporterSource
from takedown.stats import dsa, periods, scorecards, service
from takedown.stats.filters import OUTCOMES, Filters
from takedown.stats.schemas import PeriodOut, ScorecardList, ScorecardOut, StatsOut
from takedown.web.deps import State, Tx, require

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])
Supervisor = Annotated[Principal, Depends(require(Permission.CASES_SUPERVISE))]
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
_TEXT: Final = {"max_length": 32}

PeriodKind = Annotated[str, Query(description="day, week, month, year or custom", **_TEXT)]
When = Annotated[
    str | None,
    Query(
        description="2026-11-22, 2026-W47, 2026-11 or 2026 (the current one if left out)", **_TEXT
    ),
]
From = Annotated[str | None, Query(alias="from", description="custom: first day", **_TEXT)]
To = Annotated[str | None, Query(alias="to", description="custom: last day, included", **_TEXT)]


def chosen_period(
    state: State,
    period: PeriodKind = "month",
    date: When = None,
    start: From = None,
    end: To = None,
) -> periods.Period:
    """The period a request asks for (``period``, ``date``, ``from``, ``to``); 422 when bad."""
    return periods.parse(period, date, today=state.clock.now().date(), start=start, end=end)


Chosen = Annotated[periods.Period, Depends(chosen_period)]


def provider_key(caller: Reader) -> uuid.UUID:
    """The organization of the calling API key: what a provider reads of its own."""
    if caller.kind != "api_key" or caller.org_id is None:
        raise Forbidden("a provider reads its own figures with its organization's API key")
    return caller.org_id


Provider = Annotated[uuid.UUID, Depends(provider_key)]


@router.get("", response_model=StatsOut)
def stats(
    caller: Supervisor,
    session: Tx,
    chosen: Chosen,
    source: Annotated[ReporterSource | None, Query()] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$")] = None,
    organization: Annotated[uuid.UUID | None, Query()] = None,
    classification: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(description=", ".join(OUTCOMES), **_TEXT)] = None,
) -> StatsOut:
    if outcome is not None and outcome not in OUTCOMES:
        raise ValidationFailed(f"outcome must be one of {', '.join(OUTCOMES)}")
    filters = Filters(
        source=source,
        country=country.upper() if country else None,
        organization=organization,
        classification=classification,
        outcome=outcome,
    )
    return StatsOut.of(service.figures(session, chosen, filters))


@router.get("/providers", response_model=ScorecardList)
def providers(caller: Supervisor, session: Tx, chosen: Chosen) -> ScorecardList:
    return _scorecards(session, chosen)


@router.get("/providers/me", response_model=ScorecardList)
def my_scorecard(org_id: Provider, session: Tx, chosen: Chosen) -> ScorecardList:
    return _scorecards(session, chosen, org_id)


class StatementsOut(BaseModel):
    """The body of the DSA Transparency Database's ``POST /api/v1/statements`` (at most 100
    per call there); docs/dsa-statements.md explains every field."""

    statements: list[dict[str, Any]]


@router.get("/providers/me/statements", response_model=StatementsOut)
def my_statements(
    org_id: Provider,
    session: Tx,
    state: State,
    start: Annotated[str, Query(alias="from", description="first day", **_TEXT)],
    end: Annotated[str, Query(alias="to", description="last day, included", **_TEXT)],
) -> StatementsOut:
    """The calling provider's removals on our notices as DSA statements of reasons."""
    today = state.clock.now().date()
    chosen = periods.parse("custom", None, today=today, start=start, end=end)
    found = dsa.statements(
        session, org_id, chosen.start, chosen.end, hotline=state.settings.hotline_name
    )
    return StatementsOut(statements=found)


def _scorecards(
    session: Session, chosen: periods.Period, org_id: uuid.UUID | None = None
) -> ScorecardList:
    cards = scorecards.scorecards(session, chosen, org_id=org_id)
    return ScorecardList(period=_out(chosen), providers=[ScorecardOut.of(c) for c in cards])


def _out(period: periods.Period) -> PeriodOut:
    return PeriodOut(kind=period.kind, label=period.label, start=period.start, end=period.end)
