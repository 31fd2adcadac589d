"""Which cases a caller may see: staff see everything, an organization only its own reports.

A trusted flagger's key must not reveal what police or the public reported, so keys see only
the cases their organization reported, and only their organization's reports within them;
what they see of those cases is ``takedown.cases.views``'s decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from takedown.auth.principal import Principal
from takedown.cases.models import Case
from takedown.errors import NotFound
from takedown.intake.models import Report


def is_reporter(caller: Principal) -> bool:
    """Whether ``caller`` gets the reporter's view: every organization's API key (trusted
    flaggers, partner hotlines and police forces alike). Staff users, whatever their role,
    and the system get the full view; the public reads no cases at all."""
    return caller.kind == "api_key"


def restrict(query: Select[Case], caller: Principal) -> Select[Case]:
    if not is_reporter(caller):
        return query
    return query.where(exists().where(Report.case_id == Case.id, Report.org_id == caller.org_id))


def check_visible(session: Session, case_id: uuid.UUID, caller: Principal) -> None:
    if not is_reporter(caller):
        return
    query = restrict(select(Case), caller).where(Case.id == case_id)
    if session.scalar(select(query.exists())) is not True:
        # The same answer as for a case that does not exist: no probing for case ids.
        raise NotFound(f"no case {case_id}")


def visible_reports(session: Session, case_id: uuid.UUID, caller: Principal) -> Sequence[Report]:
    query = select(Report).where(Report.case_id == case_id).order_by(Report.received_at, Report.id)
    if is_reporter(caller):
        query = query.where(Report.org_id == caller.org_id)
    return session.scalars(query).all()


def check_staff(case_id: uuid.UUID, caller: Principal) -> None:
    """Traces, routes and notices are the hotline's working notes: staff only.

    An organization's key gets the same 404 as for a case that does not exist.
    """
    if is_reporter(caller):
        raise NotFound(f"no case {case_id}")
