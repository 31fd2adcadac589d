"""Appeals over the staff JSON API: the review queue, de-listing while reviewing, deciding.

Every route needs ``lists:publish`` (supervisors and administrators): appeals carry the
appellant's e-mail address and their decision changes what every network blocks. Delisting
and deciding also need the four-eyes rule to pass (see ``lists.appeals``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from takedown.auth.principal import Permission, Principal
from takedown.lists import appeals
from takedown.lists.models import Appeal, AppealStatus
from takedown.lists.schemas import (
    AppealEntryOut,
    AppealListOut,
    AppealOut,
    AppealSummaryOut,
    DecideIn,
    DelistIn,
)
from takedown.web.deps import State, Tx, json_body, require
from takedown.web.params import Offset

router = APIRouter(prefix="/api/v1/appeals", tags=["appeals"])
Supervisor = Annotated[Principal, Depends(require(Permission.LISTS_PUBLISH))]


def _out(session: Session, appeal: Appeal) -> AppealOut:
    entries = [AppealEntryOut.model_validate(e) for e in appeals.appeal_entries(session, appeal)]
    fields = {k: getattr(appeal, k) for k in AppealOut.model_fields if k != "entries"}
    return AppealOut.model_validate(fields | {"entries": entries})


def _summary(appeal: Appeal) -> AppealSummaryOut:
    return AppealSummaryOut.model_validate(
        {k: getattr(appeal, k) for k in AppealSummaryOut.model_fields if not k.endswith("_count")}
        | {"url_count": len(appeal.urls), "entry_count": len(appeal.entry_ids)}
    )


@router.get("", response_model=AppealListOut)
def list_appeals(
    caller: Supervisor,
    session: Tx,
    status: AppealStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> AppealListOut:
    """Appeals, oldest first; ``status=open`` is the queue still to review."""
    rows, total = appeals.list_appeals(session, status=status, limit=limit, offset=offset)
    return AppealListOut(total=total, items=[_summary(a) for a in rows])


@router.get("/{reference}", response_model=AppealOut)
def get_appeal(reference: str, caller: Supervisor, session: Tx) -> AppealOut:
    """One appeal, with the list entries it is about and who made them."""
    return _out(session, appeals.get_appeal(session, reference))


@router.post("/{reference}/delist", response_model=AppealOut, dependencies=[Depends(json_body)])
def delist_appeal(
    reference: str, body: DelistIn, caller: Supervisor, session: Tx, state: State
) -> AppealOut:
    """Suspend the appeal's active entries while you review it (status ``delisted``).

    Only a supervisor who neither added, approved nor confirmed what the appeal is about.
    """
    appeal = appeals.delist(session, reference, actor=caller, now=state.clock.now(), note=body.note)
    return _out(session, appeal)


@router.post("/{reference}/decide", response_model=AppealOut, dependencies=[Depends(json_body)])
def decide_appeal(
    reference: str, body: DecideIn, caller: Supervisor, session: Tx, state: State
) -> AppealOut:
    """Decide: ``upheld`` withdraws the entries, ``rejected`` puts suspended ones back.

    The appellant is e-mailed the outcome (not the note). A second decision is a 409.
    """
    appeal = appeals.decide(
        session, reference, body.outcome, actor=caller, now=state.clock.now(), note=body.note
    )
    return _out(session, appeal)
